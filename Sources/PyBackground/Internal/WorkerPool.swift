import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A fixed set of real threads taking futures from named queues by priority (``ReadyQueues``).
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
    /// Reached through a pointer: a mutation of a class's stored `var` is checked for exclusive
    /// access at run time (`swift_beginAccess`, about 80 instructions under callgrind, once in
    /// each submit and once in each worker's pop: issue 20), and `lock` already makes it exclusive.
    private var queue: ReadyQueues {
        unsafeAddress { UnsafePointer(queueStorage) }
        unsafeMutableAddress { queueStorage }
    }
    private let queueStorage: UnsafeMutablePointer<ReadyQueues> = {
        let storage = UnsafeMutablePointer<ReadyQueues>.allocate(capacity: 1)
        storage.initialize(to: ReadyQueues())
        return storage
    }()
    private var idleWorkers = 0
    /// Idle workers signalled but not yet awake: another submission need not wake them again.
    private var wakeupsInFlight = 0
    /// Mirrors `queue.count` for the lock-free look a worker takes before it goes to sleep.
    private let queuedHint = Atomic<Int>(0)
    private var activeWorkers = 0
    /// Workers between tasks that still hold ended ones to hand over (see `workLoop`).
    private var settlingWorkers = 0
    private var workerThreads: [pthread_t] = []
    private var drainedCallbacks: [@Sendable () -> Void] = []
    /// Drained callbacks taken and not yet returned: a drain waiter waits for them too, so that
    /// what they do (the tables releasing ended tasks' closures) is done when its wait returns.
    private var drainedCallbacksRunning = 0
    /// What the workers did, counted here because they hold the lock anyway: atomics on a shared
    /// cache line cost more than the lock they would save.
    private var finishedCount = 0
    private var failedCount = 0
    /// Killed while they ran: they end cancelled.
    private var killedCount = 0
    /// Given the tasks a worker ran, once they ended, in batches; nil when there is nothing to do.
    private let onEnded: (@Sendable ([Future]) -> Void)?
    /// A worker hands over its ended tasks once this many gathered, or before the queue is empty
    /// when it stops running tasks: the retention bound may be passed by this many per busy
    /// worker, never when the pool is idle.
    static let endedBatchSize = 64

    static let spinsBeforeSleep = 256

    init(size: Int, onEnded: (@Sendable ([Future]) -> Void)? = nil) {
        precondition(size > 0, "a worker pool needs at least one worker, got \(size)")
        self.size = size
        self.onEnded = onEnded
    }

    deinit {
        queueStorage.deinitialize(count: 1)
        queueStorage.deallocate()
    }

    /// Tasks running now (a worker that just took a cancelled one counts for an instant), and
    /// how many ran and returned, ran and threw (or timed out), and were killed while they ran.
    var counts: (running: Int, finished: Int, failed: Int, killed: Int) {
        lock.withLock { (activeWorkers, finishedCount, failedCount, killedCount) }
    }

    /// Queues a future and, unless `wakingWorker` is false, wakes an idle worker for it. Returns
    /// false, queueing nothing, once the pool is closed. A caller that queues a burst on one thread
    /// passes false and calls ``wakeIdleWorkers()`` after the burst: one wake-up instead of one per
    /// task, which the event loop would otherwise pay for each pipelined submission.
    func submit(_ future: Future, wakingWorker: Bool = true) -> Bool {
        lock.lock()
        guard admitting() else {
            lock.unlock()
            return false
        }
        queue.push(future)
        queuedHint.store(queue.count, ordering: .relaxed)
        // Signal after unlocking, so the woken worker does not block on the lock we still hold.
        let wake = wakingWorker && idleWorkers > wakeupsInFlight
        if wake { wakeupsInFlight += 1 }
        lock.unlock()
        if wake { lock.signal() }
        return true
    }

    /// Adds a queue or changes its limit; wakes the workers, who may now start more.
    func configureQueue(_ name: String, maxRunning: Int?) {
        lock.withLock {
            queue.configure(name, maxRunning: maxRunning)
            lock.broadcast()
        }
    }

    /// Pauses or resumes a queue (false: no such queue); a resume wakes the workers.
    func setPaused(_ name: String, _ paused: Bool) -> Bool {
        lock.withLock {
            guard queue.setPaused(name, paused) else { return false }
            if !paused { lock.broadcast() }
            return true
        }
    }

    func hasQueue(_ name: String) -> Bool { lock.withLock { queue.index(of: name) != nil } }

    /// Every queue's limit, state and counts, the default queue first.
    var queueStatistics: [QueueStatistics] {
        lock.withLock {
            let uncounted = queue.uncountedDefaultRunning(active: activeWorkers)
            return queue.lanes.enumerated().map { index, lane in
                QueueStatistics(
                    name: lane.name, maxRunning: lane.maxRunning, paused: lane.paused, pending: queue.count(ofLane: index),
                    running: lane.running + (index == 0 ? uncounted : 0))
            }
        }
    }

    /// Wakes as many idle workers as the queued futures can keep busy (none already being woken).
    func wakeIdleWorkers() {
        lock.lock()
        let wakes = max(0, min(queue.count, idleWorkers - wakeupsInFlight))
        wakeupsInFlight += wakes
        lock.unlock()
        for _ in 0..<wakes { lock.signal() }
    }

    /// Queues futures in order under one lock, waking as many idle workers as they can keep
    /// busy. Returns false, queueing none, once the pool is closed.
    func submit(contentsOf futures: [Future]) -> Bool {
        lock.lock()
        guard admitting() else {
            lock.unlock()
            return false
        }
        for future in futures { queue.push(future) }
        queuedHint.store(queue.count, ordering: .relaxed)
        let wakes = max(0, min(futures.count, idleWorkers - wakeupsInFlight))
        wakeupsInFlight += wakes
        lock.unlock()
        for _ in 0..<wakes { lock.signal() }
        return true
    }

    /// With the lock held: false once closed; starts the workers at the first submission.
    private func admitting() -> Bool {
        switch phase {
        case .closed:
            return false
        case .idle:
            phase = .running
            isAccepting.store(true, ordering: .releasing)
            for _ in 0..<size { spawnWorker() }
        case .running:
            break
        }
        return true
    }

    /// Closed: it accepts nothing more.
    var isClosed: Bool { lock.withLock { phase == .closed } }

    /// Workers asleep, waiting for a wake-up.
    var sleepingCount: Int { lock.withLock { idleWorkers } }

    /// Futures waiting for a worker (cancelled ones that no worker has dropped yet included).
    /// Read without the lock (the count as of the last change to the queue, which is made under
    /// it): a host checks it at every submission against its limit, and taking the lock there
    /// met the workers on it once a task.
    var queuedCount: Int { queuedHint.load(ordering: .relaxed) }

    /// Refuses further submissions. Queued futures still run, unless `takingQueued`: then they are
    /// removed and returned, oldest first, for the caller to cancel. Those of paused queues, which
    /// would never run, are removed either way and returned as `held`.
    @discardableResult
    func close(takingQueued: Bool) -> (taken: [Future], held: [Future]) {
        let (taken, held, callbacks) = lock.withLock {
            phase = .closed
            isAccepting.store(false, ordering: .releasing)
            let held = queue.removePaused()
            let taken = takingQueued ? queue.removeAll() : []
            queuedHint.store(queue.count, ordering: .relaxed)
            lock.broadcast()
            return (taken, held, takeDrainedCallbacksIfDrained())
        }
        if !callbacks.isEmpty {
            for callback in callbacks { callback() }
            lock.withLock { drainedCallbacksReturned() }
        }
        return (taken, held)
    }

    /// Blocks until the pool is closed, its queue is empty and no worker but the caller is running
    /// a task (so a task may shut down its own scheduler and wait). Returns false at the deadline.
    func awaitDrained(until deadline: MonotonicInstant?) -> Bool {
        let callerIsWorker = isCurrentThreadAWorker
        return lock.withLock {
            func done() -> Bool {
                phase == .closed && isDrained(excludingCaller: callerIsWorker) && drainedCallbacksRunning == 0
            }
            while !done() {
                if let deadline {
                    if !lock.wait(until: deadline) { return done() }
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
        queue.isEmpty && activeWorkers + settlingWorkers == (excludingCaller ? 1 : 0)
    }

    /// Called with the lock held; the caller runs the callbacks after unlocking.
    private func takeDrainedCallbacksIfDrained() -> [@Sendable () -> Void] {
        guard phase == .closed, isDrained(excludingCaller: false), !drainedCallbacks.isEmpty else { return [] }
        defer { drainedCallbacks = [] }
        drainedCallbacksRunning += 1
        return drainedCallbacks
    }

    /// With the lock held, after the callbacks ``takeDrainedCallbacksIfDrained()`` took have run.
    private func drainedCallbacksReturned() {
        drainedCallbacksRunning -= 1
        lock.broadcast()
    }

    /// Called with the lock held.
    private func spawnWorker() {
        workerThreads.append(DetachedThread.start { self.workLoop() })
    }

    private func workLoop() {
        let slot = CurrentFuture.register()
        defer { withExtendedLifetime(slot) {} }
        // The tasks this worker ended and has not handed to `onEnded` yet: its own, no lock.
        var ended: [Future] = []
        // Whether `settlingWorkers` counts this worker: between tasks, while it holds ended ones
        // not handed over yet, so that a pool counts as drained only once every end is applied.
        // Handed over at the end of each task whenever the queue was empty (as it is for an
        // instant between most tasks of a stream that the workers keep up with), the ends took
        // the tables' lock once a task against the inserting thread (perf of the event loop under
        // pipelined SUBMIT: issue 20); now once a batch, or before the worker sleeps.
        var settling = false
        func handOver() {
            onEnded?(ended)
            ended.removeAll(keepingCapacity: true)
        }
        // With the lock held: hands over what this worker ended (unlocking meanwhile); called
        // before it sleeps or exits.
        func settle() {
            if !ended.isEmpty {
                lock.unlock()
                handOver()
                lock.lock()
            }
            guard settling else { return }
            settling = false
            settlingWorkers -= 1
            notifyIfClosed()
        }
        lock.lock()
        while true {
            if queue.isEmpty && phase != .closed {
                // A short look before sleeping: under a steady stream the next task arrives within
                // microseconds, and catching it here saves both sides a futex round trip.
                lock.unlock()
                var spins = 0
                while spins < Self.spinsBeforeSleep && queuedHint.load(ordering: .relaxed) == 0 {
                    spins += 1
                    if spins % 64 == 0 { sched_yield() }
                }
                lock.lock()
            }
            // A queue that holds futures may still be unable to start one (paused, at its limit).
            var next = queue.pop()
            while next == nil {
                settle()
                // Settling unlocked: a task may have come, or the pool closed, meanwhile.
                next = queue.pop()
                if next != nil || (phase == .closed && queue.isEmpty) { break }
                idleWorkers += 1
                lock.wait()
                idleWorkers -= 1
                if wakeupsInFlight > 0 { wakeupsInFlight -= 1 }
                next = queue.pop()
            }
            guard let (future, lane) = next else { break }
            queuedHint.store(queue.count, ordering: .relaxed)
            if settling {
                settling = false
                settlingWorkers -= 1
            }
            activeWorkers += 1
            lock.unlock()
            let final = future.run(in: slot)
            if let final, final.isDone, onEnded != nil {
                ended.append(future)
                if ended.count >= Self.endedBatchSize { handOver() }
            }
            lock.lock()
            activeWorkers -= 1
            if !ended.isEmpty {
                settling = true
                settlingWorkers += 1
            }
            if let lane { queue.ended(lane: lane) }
            switch final {
            case .finished?: finishedCount += 1
            case .failed?: failedCount += 1
            case .cancelled?: killedCount += 1
            default: break
            }
            notifyIfClosed()
        }
        let current = pthread_self()
        workerThreads.removeAll { pthread_equal($0, current) != 0 }
        lock.unlock()
    }

    /// With the lock held, once the pool is closed: wakes the drain waiters (one may be a worker
    /// waiting for all but itself, so on every change) and runs the drained callbacks if drained.
    private func notifyIfClosed() {
        guard phase == .closed else { return }
        lock.broadcast()
        let callbacks = takeDrainedCallbacksIfDrained()
        if !callbacks.isEmpty {
            lock.unlock()
            for callback in callbacks { callback() }
            lock.lock()
            drainedCallbacksReturned()
        }
    }
}
