#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A fixed set of real threads taking futures from one FIFO queue.
///
/// Threads (not Swift concurrency tasks) because tasks may block: sleep, file I/O, a child process.
/// Threads start with the first submission, like `ThreadPoolExecutor`, and exit once the pool is
/// closed and its queue has drained.
final class WorkerPool: @unchecked Sendable {
    let size: Int
    /// Set at the first submission, cleared at close: the scheduler's `stopped` reads it lock-free.
    let isAccepting = Atomic<Bool>(false)

    private enum Phase { case idle, running, closed }

    // Everything below is guarded by `lock`.
    private let lock = ConditionLock()
    private var phase = Phase.idle
    private var queue = FIFOQueue<Future>()
    private var idleWorkers = 0
    private var activeWorkers = 0
    private var workerThreads: [pthread_t] = []
    private var drainedCallbacks: [@Sendable () -> Void] = []

    init(size: Int) {
        precondition(size > 0, "a worker pool needs at least one worker, got \(size)")
        self.size = size
    }

    /// Queues a future. Returns false, queueing nothing, once the pool is closed.
    func submit(_ future: Future) -> Bool {
        lock.lock()
        switch phase {
        case .closed:
            lock.unlock()
            return false
        case .idle:
            phase = .running
            isAccepting.store(true, ordering: .releasing)
            for _ in 0..<size { spawnWorker() }
        case .running:
            break
        }
        queue.push(future)
        if idleWorkers > 0 { lock.signal() }
        lock.unlock()
        return true
    }

    /// Futures waiting for a worker (cancelled ones that no worker has dropped yet included).
    var queuedCount: Int { lock.withLock { queue.count } }

    /// Refuses further submissions. Queued futures still run, unless `takingQueued`: then they are
    /// removed and returned, oldest first, for the caller to cancel.
    @discardableResult
    func close(takingQueued: Bool) -> [Future] {
        let (taken, callbacks) = lock.withLock {
            phase = .closed
            isAccepting.store(false, ordering: .releasing)
            let taken = takingQueued ? queue.removeAll() : []
            lock.broadcast()
            return (taken, takeDrainedCallbacksIfDrained())
        }
        for callback in callbacks { callback() }
        return taken
    }

    /// Blocks until the pool is closed, its queue is empty and no worker but the caller is running
    /// a task (so a task may shut down its own scheduler and wait). Returns false at the deadline.
    func awaitDrained(until deadline: MonotonicInstant?) -> Bool {
        let callerIsWorker = isCurrentThreadAWorker
        return lock.withLock {
            while !(phase == .closed && isDrained(excludingCaller: callerIsWorker)) {
                if let deadline {
                    if !lock.wait(until: deadline) {
                        return phase == .closed && isDrained(excludingCaller: callerIsWorker)
                    }
                } else {
                    lock.wait()
                }
            }
            return true
        }
    }

    /// Calls `callback` once the pool is closed and drained: at once if it already is.
    func whenDrained(_ callback: @escaping @Sendable () -> Void) {
        let now: Bool = lock.withLock {
            if phase == .closed && isDrained(excludingCaller: false) { return true }
            drainedCallbacks.append(callback)
            return false
        }
        if now { callback() }
    }

    var isCurrentThreadAWorker: Bool {
        let current = pthread_self()
        return lock.withLock { workerThreads.contains { pthread_equal($0, current) != 0 } }
    }

    // MARK: - Workers

    private func isDrained(excludingCaller: Bool) -> Bool {
        queue.isEmpty && activeWorkers == (excludingCaller ? 1 : 0)
    }

    /// Called with the lock held; the caller runs the callbacks after unlocking.
    private func takeDrainedCallbacksIfDrained() -> [@Sendable () -> Void] {
        guard phase == .closed, isDrained(excludingCaller: false), !drainedCallbacks.isEmpty else { return [] }
        defer { drainedCallbacks = [] }
        return drainedCallbacks
    }

    /// Called with the lock held.
    private func spawnWorker() {
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { context in
            let pool = Unmanaged<WorkerPool>.fromOpaque(context!).takeRetainedValue()
            pool.workLoop()
            return nil
        }, context)
        precondition(status == 0, "pthread_create failed with error \(status)")
        pthread_detach(thread)
        workerThreads.append(thread)
    }

    private func workLoop() {
        lock.lock()
        while true {
            while queue.isEmpty && phase != .closed {
                idleWorkers += 1
                lock.wait()
                idleWorkers -= 1
            }
            guard let future = queue.pop() else { break }
            activeWorkers += 1
            lock.unlock()
            future.run()
            lock.lock()
            activeWorkers -= 1
            if phase == .closed {
                // Drain waiters may be a worker waiting for all but itself, so wake them on every end.
                lock.broadcast()
                let callbacks = takeDrainedCallbacksIfDrained()
                if !callbacks.isEmpty {
                    lock.unlock()
                    for callback in callbacks { callback() }
                    lock.lock()
                }
            }
        }
        let current = pthread_self()
        workerThreads.removeAll { pthread_equal($0, current) != 0 }
        lock.unlock()
    }
}
