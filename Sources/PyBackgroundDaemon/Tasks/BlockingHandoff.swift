import Dispatch
import Synchronization

/// Hands one result from async code to a thread that blocks for it: a worker thread is a task's
/// slot, so a command task's worker waits here while the Swift task that runs the process delivers.
final class BlockingHandoff<Value: Sendable>: Sendable {
    private let result = Mutex<Result<Value, any Error>?>(nil)
    private let delivered = DispatchSemaphore(value: 0)

    /// Stores the result and wakes the waiter; only the first delivery counts.
    func deliver(_ outcome: Result<Value, any Error>) {
        let first = result.withLock { stored in
            guard stored == nil else { return false }
            stored = outcome
            return true
        }
        if first { delivered.signal() }
    }

    /// Blocks until a result is delivered and returns it.
    func wait() -> Result<Value, any Error> {
        delivered.wait()
        delivered.signal()  // a second wait returns at once too
        return result.withLock { $0! }
    }
}
