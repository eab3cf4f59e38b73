import Dispatch
import Synchronization

/// Runs async work to its end from synchronous code that may block: a worker thread, the
/// daemon's start, its shutdown off the event loops. Never from the concurrency pool's own
/// threads while the pool is busy: the work needs one of them.
enum Blocking {
    static func run<Value: Sendable>(_ body: @escaping @Sendable () async throws -> Value) throws -> Value {
        let outcome = Mutex<Result<Value, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            let result = await Result(awaiting: body)
            outcome.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        return try outcome.withLock { $0! }.get()
    }
}
