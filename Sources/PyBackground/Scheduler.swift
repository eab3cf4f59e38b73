import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What ``BackgroundScheduler`` and ``BlockingScheduler`` share: a fixed pool of worker threads,
/// the task and future tables, and the start/shutdown life cycle of the seed's `Scheduler`.
///
/// Tasks beyond ``maxWorkers`` wait in first-in, first-out order. A task is any function with
/// typed arguments; wrong argument types do not compile.
///
/// ```swift
/// let scheduler = BackgroundScheduler()
/// let id = try scheduler.start(now, args: 1.0, name: "now")
/// scheduler.shutdown(wait: true)
/// print(scheduler.futures[id]!.state)   // finished
/// ```
///
/// A scheduler is stopped before its first `start` and after ``shutdown(wait:cancelPending:)``;
/// once shut down it accepts nothing more (`start` throws ``SchedulerError/Code/shutDown``).
public class Scheduler: @unchecked Sendable {
    /// The number of worker threads.
    public let maxWorkers: Int
    /// How many ended tasks the tables keep (oldest dropped first); nil keeps all, as the seed does.
    public let keepFinished: Int?

    let store: TaskStore
    let pool: WorkerPool
    /// Scheduled and retrying futures whose time has not come, for shutdown to cancel.
    private let scheduledFutures = Mutex<[TaskID: Future]>([:])
    /// The time of day for schedules.
    public let clock: any SchedulerClock
    /// The one thread that waits for every schedule's next firing (started by the first).
    let timer: TimerQueue
    /// Wakes ``sleep(for:)`` and a blocking `start` when the scheduler stops.
    private let stopSignal = ConditionLock()

    init(maxWorkers: Int?, keepFinished: Int?, clock: any SchedulerClock = SystemClock(), observer: (any TaskObserver)? = nil) {
        self.clock = clock
        self.timer = TimerQueue(clock: clock)
        let workers = maxWorkers ?? Scheduler.activeProcessorCount
        precondition(workers > 0, "maxWorkers must be at least 1, got \(workers)")
        self.maxWorkers = workers
        self.keepFinished = keepFinished
        let store = TaskStore(keepFinished: keepFinished, observer: observer)
        self.store = store
        var onEnded: (@Sendable ([Future]) -> Void)?
        if keepFinished != nil { onEnded = { store.futuresEnded($0) } }
        self.pool = WorkerPool(size: workers, onEnded: onEnded)
        // The last ends handed over wait for the next use of the tables; after a shutdown there
        // may be none, and a body they hold (which may hold this scheduler) would never go. Drain
        // waiters (`shutdown(wait: true)`, `awaitTermination`) return only once this has run.
        if keepFinished != nil { pool.whenDrained { store.applyHandedOver() } }
    }

    deinit {
        // Let the threads finish what was queued and exit instead of idling forever.
        timer.close()
        pool.close(takingQueued: false)
    }

    /// The number of processors this process may run on: the default for `maxWorkers`.
    public static var activeProcessorCount: Int {
        max(1, ProcessInfo.processInfo.activeProcessorCount)
    }

    // MARK: - State

    /// True before the first `start` and from `shutdown` on. A cooperative loop polls it:
    /// `while !scheduler.stopped { … }`. Reading it takes no lock.
    public var stopped: Bool { !pool.isAccepting.load(ordering: .acquiring) }

    /// The id of the most recently started task, nil before the first.
    public var latestID: TaskID? { store.latest }

    /// The task table (id → ``TaskRecord``) as of now.
    public var tasks: TaskTable { SchedulerTable(store: store) { $0.record } }

    /// The future table (id → ``Future``) as of now.
    public var futures: FutureTable { SchedulerTable(store: store) { $0 } }

    /// Tasks waiting for a worker: read without a lock, far cheaper than ``statistics`` for a
    /// queue-depth check. (Cancelled tasks no worker has dropped yet are included.)
    public var pendingCount: Int { pool.queuedCount }

    /// Tasks waiting for the time they were started to run at: cheaper to read than ``statistics``.
    public var scheduledCount: Int { Swift.max(0, store.scheduledCount.load(ordering: .acquiring)) }

    /// Tasks waiting for their next attempt.
    public var retryingCount: Int { Swift.max(0, store.retryingCount.load(ordering: .acquiring)) }

    /// Counts of tasks per state. Pending is what is neither running nor ended; a task changing
    /// state during the read may be counted on either side of the change.
    public var statistics: SchedulerStatistics {
        // Worker counts first: tasks submitted after them only raise `submitted`, so pending
        // cannot come out below zero from the order of the reads.
        let (running, ranAndReturned, ranAndThrew, killed) = pool.counts
        let restored = store.restoredCounts
        let finished = ranAndReturned + restored[.finished, default: 0]
        let failed = ranAndThrew + restored[.failed, default: 0]
        let cancelled = store.cancelledCount.load(ordering: .acquiring) + killed + restored[.cancelled, default: 0]
        let interrupted = restored[.interrupted, default: 0]
        let submitted = store.acceptedCount
        let scheduled = scheduledCount
        let retrying = retryingCount
        let waiting = Swift.max(0, store.waitingCount.load(ordering: .acquiring))
        return SchedulerStatistics(
            submitted: submitted,
            scheduled: scheduled,
            waiting: waiting,
            pending: Swift.max(
                0, submitted - scheduled - waiting - retrying - running - finished - failed - cancelled - interrupted),
            running: running,
            retrying: retrying,
            finished: finished,
            failed: failed,
            cancelled: cancelled,
            interrupted: interrupted)
    }

    // MARK: - Starting tasks

    /// Starts `fn` with positional arguments on a worker; returns the new task's id.
    ///
    /// ```swift
    /// try scheduler.start(now, args: 1.0)
    /// try scheduler.start({ (path: String, count: Int) in try copy(path, count) }, args: "/tmp/x", 3)
    /// ```
    /// - Parameters:
    ///   - name: recorded in the task table; defaults to `"task"`.
    ///   - options: a timeout and a retry policy (``TaskOptions``); none by default.
    /// - Throws: ``SchedulerError/Code/shutDown`` after ``shutdown(wait:cancelPending:)``.
    @discardableResult
    public func start<each Arg: Sendable, Value: Sendable>(
        _ fn: @escaping @Sendable (repeat each Arg) throws -> Value,
        args: repeat each Arg,
        name: String? = nil,
        options: TaskOptions = TaskOptions()
    ) throws(SchedulerError) -> TaskID {
        var recorded: [any Sendable] = []
        for argument in repeat each args { recorded.append(argument) }
        return try start(name: name ?? "task", args: recorded, kwargs: [], options: options) { _ in try fn(repeat each args) }
    }

    /// ``start(_:args:name:options:)`` for a function of no arguments, the commonest call: the
    /// same task, without the run-time tuple metadata an empty parameter pack costs at each call
    /// (about 100 instructions a task under callgrind: issue 20).
    ///
    /// ```swift
    /// try scheduler.start { try sendReport() }
    /// ```
    @discardableResult
    public func start<Value: Sendable>(
        _ fn: @escaping @Sendable () throws -> Value,
        name: String? = nil,
        options: TaskOptions = TaskOptions()
    ) throws(SchedulerError) -> TaskID {
        try start(name: name ?? "task", args: [], kwargs: [], options: options) { _ in try fn() }
    }

    /// Starts `fn` with keyword arguments gathered in one value, the Swift shape of Python's
    /// `**kwargs`: a struct whose stored properties (with their defaults) are the keywords.
    /// Positional arguments may follow in `args`. The task table records each stored property
    /// as a keyword argument.
    ///
    /// The options value is the function's *first* parameter: Swift cannot yet call a function
    /// type whose parameter pack is followed by another parameter.
    ///
    /// ```swift
    /// struct Cost: Sendable { var cost = 1.0 }
    /// try scheduler.start({ (options: Cost) in try now(options.cost) }, kwargs: Cost(cost: 2))
    /// try scheduler.start({ (options: Cost, label: String) in … }, args: "fast", kwargs: Cost())
    /// ```
    @discardableResult
    public func start<Options: Sendable, each Arg: Sendable, Value: Sendable>(
        _ fn: @escaping @Sendable (Options, repeat each Arg) throws -> Value,
        args: repeat each Arg,
        kwargs: Options,
        name: String? = nil,
        options: TaskOptions = TaskOptions()
    ) throws(SchedulerError) -> TaskID {
        var recorded: [any Sendable] = []
        for argument in repeat each args { recorded.append(argument) }
        return try start(name: name ?? "task", args: recorded, kwargs: KeywordArgument.fields(of: kwargs), options: options) { _ in
            try fn(kwargs, repeat each args)
        }
    }

    /// Starts a prepared body, recording `name`, `args` and `kwargs` as given: for hosts that
    /// build tasks at run time from names and values (the `pybgd` registry does). The body is
    /// handed its own task id.
    ///
    /// `BlockingScheduler` blocks here, after queueing, until it is shut down.
    @discardableResult
    public func start(
        name: String,
        args: [any Sendable],
        kwargs: [KeywordArgument],
        options: TaskOptions = TaskOptions(),
        _ body: @escaping @Sendable (TaskID) throws -> any Sendable
    ) throws(SchedulerError) -> TaskID {
        let submittedAt = Date()
        guard options.isDefault else {
            let record = TaskRecord(id: newTaskID(), name: name, args: args, kwargs: kwargs, submittedAt: submittedAt, options: options)
            return try start(record, wakingWorker: true, body).id
        }
        let future = store.insert { id, sequence in
            Future(id: id, name: name, args: args, kwargs: kwargs, submittedAt: submittedAt, sequence: sequence, store: store, body: body)
        }
        try enqueue(future)
        if blocksCallerOnStart { waitUntilStopped() }
        return future.id
    }

    /// Starts a prepared body under a record made beforehand, keeping its id and submission time:
    /// for hosts that log a task durably before it may start, or run again one that an earlier
    /// life of the host accepted. Returns the new future.
    ///
    /// - Throws: ``SchedulerError/Code/duplicateID`` if the tables hold `record.id` already;
    ///   ``SchedulerError/Code/shutDown`` after ``shutdown(wait:cancelPending:)``.
    @discardableResult
    public func start(
        _ record: TaskRecord,
        _ body: @escaping @Sendable (TaskID) throws -> any Sendable
    ) throws(SchedulerError) -> Future {
        try start(record, wakingWorker: true, body)
    }

    /// ``start(_:_:)`` for a host that starts a burst of tasks on one thread (the requests of one
    /// read on an event loop): with `wakingWorker` false the task is in the tables and the queue at
    /// once, but no sleeping worker is woken for it until ``wakeWorkers()``, which the host calls
    /// once after the burst. Until then only workers already awake take it.
    @discardableResult
    package func start(
        _ record: TaskRecord,
        wakingWorker: Bool,
        history: AttemptHistory? = nil,
        _ body: @escaping @Sendable (TaskID) throws -> any Sendable
    ) throws(SchedulerError) -> Future {
        let future = try insert(record, wakingWorker: wakingWorker, history: history, body)
        if blocksCallerOnStart && future.state != .cancelled { waitUntilStopped() }
        return future
    }

    /// Checks a record's options, puts its future in the tables and sends it on its way: to the
    /// timer (scheduled, retrying), to wait for the tasks it runs after, or to the queue.
    private func insert(
        _ record: TaskRecord, wakingWorker: Bool, history: AttemptHistory?,
        _ body: @escaping @Sendable (TaskID) throws -> any Sendable
    ) throws(SchedulerError) -> Future {
        let id = record.id
        let retrying = history?.retryAt != nil
        let prerequisites = retrying ? [] : try prerequisites(of: record)
        let later = !retrying && isLater(record)
        if (later || retrying || !prerequisites.isEmpty) && pool.isClosed {
            throw SchedulerError(.shutDown, "the scheduler is shut down and accepts no new tasks")
        }
        let uniqueKey = record.hasOptions ? record.options.uniqueKey : nil
        if let uniqueKey { try claim(uniqueKey, for: id) }
        guard
            let future = store.insert(
                id: id,
                { sequence in
                    Future(record: record, sequence: sequence, store: store, host: self, scheduled: later, history: history, body: body)
                })
        else {
            if let uniqueKey { release(uniqueKey, heldBy: id) }
            throw SchedulerError(.duplicateID, "a task with id \(id) is in the tables already")
        }
        if let uniqueKey {
            future.addDoneCallback { [weak self] _ in self?.release(uniqueKey, heldBy: id) }
        }
        if let retryAt = history?.retryAt {
            store.retryingCount.add(1, ordering: .relaxed)
            runWhenDue(future, at: retryAt)
        } else if !prerequisites.isEmpty {
            store.waitingCount.add(1, ordering: .relaxed)
            waitForPrerequisites(of: future, prerequisites)
        } else if later {
            startWhenDue(future)
        } else {
            do {
                try enqueue(future, wakingWorker: wakingWorker)
            } catch {
                if let uniqueKey { release(uniqueKey, heldBy: id) }
                throw error
            }
        }
        return future
    }

    /// Unique keys held by live tasks.
    private let uniqueKeys = Mutex<[String: TaskID]>([:])

    /// The live task (scheduled, waiting, pending, running or retrying) that holds `uniqueKey`.
    public func task(uniqueKey: String) -> TaskID? {
        uniqueKeys.withLock { $0[uniqueKey] }
    }

    private func claim(_ key: String, for id: TaskID) throws(SchedulerError) {
        let holder: TaskID? = uniqueKeys.withLock { keys in
            if let holder = keys[key] { return holder }
            keys[key] = id
            return nil
        }
        if let holder {
            throw SchedulerError(.duplicateKey, "task \(holder) holds the unique key \"\(key)\" and has not ended")
        }
    }

    private func release(_ key: String, heldBy id: TaskID) {
        uniqueKeys.withLock { keys in
            if keys[key] == id { keys[key] = nil }
        }
    }

    /// The futures a record runs after; throws for a queue or a task the scheduler does not have.
    private func prerequisites(of record: TaskRecord) throws(SchedulerError) -> [Future] {
        guard record.hasOptions else { return [] }
        let options = record.options
        if let queue = options.queue, queue != ReadyQueues.defaultName, !pool.hasQueue(queue) { throw unknownQueue(queue) }
        var futures: [Future] = []
        for id in options.after {
            guard let future = store.future(id, before: .max) else {
                throw SchedulerError(.unknownDependency, "task \(record.id) is to run after task \(id), which the tables do not hold")
            }
            futures.append(future)
        }
        return futures
    }

    /// Starts a waiting future once every one of `prerequisites` has ended: if all finished, it is
    /// queued (or scheduled, for a time still to come); otherwise it is cancelled, naming which did
    /// not finish. A prerequisite the shutdown cancelled passes the shutdown on.
    private func waitForPrerequisites(of future: Future, _ prerequisites: [Future]) {
        let remaining = Mutex((count: prerequisites.count, unfinished: [(TaskID, FutureState, SchedulerError.Code?)]()))
        for prerequisite in prerequisites {
            prerequisite.addDoneCallback { [weak self] ended in
                let snapshot = ended.snapshot
                let code: SchedulerError.Code? =
                    if case .failure(let error as SchedulerError)? = snapshot.outcome { error.code } else { nil }
                let done = remaining.withLock { remaining -> [(TaskID, FutureState, SchedulerError.Code?)]? in
                    remaining.count -= 1
                    if snapshot.state != .finished { remaining.unfinished.append((ended.id, snapshot.state, code)) }
                    return remaining.count == 0 ? remaining.unfinished : nil
                }
                guard let done else { return }
                guard let self else {
                    future.cancel(because: Self.notRunAtShutdown)
                    return
                }
                self.release(future, unfinished: done)
            }
        }
    }

    private func release(_ future: Future, unfinished: [(TaskID, FutureState, SchedulerError.Code?)]) {
        if unfinished.contains(where: { $0.2 == .shutDown }) {
            future.cancel(because: Self.notRunAtShutdown)
            return
        }
        guard unfinished.isEmpty else {
            let which = unfinished.map { "task \($0.0) \($0.1)" }.joined(separator: ", ")
            future.cancel(because: SchedulerError(.dependencyFailed, "not run: \(which) (it was to run after them)"))
            return
        }
        let later = isLater(future.record)
        guard future.becomeReady(later: later) else { return }
        onReleased.withLock { $0 }?.call(future)
        if later {
            startWhenDue(future)
        } else if !pool.submit(future) {
            future.cancel(because: Self.notRunAtShutdown)
        }
    }

    /// Whether the record asks to run at a time still to come.
    private func isLater(_ record: TaskRecord) -> Bool {
        record.runAt.map { $0 > clock.now } ?? false
    }

    /// Queues a scheduled future when its time comes, on the timer: it waits in the tables,
    /// holding no worker. One cancelled meanwhile is not queued; one due after the pool closed
    /// is cancelled.
    private func startWhenDue(_ future: Future) {
        store.scheduledCount.add(1, ordering: .relaxed)
        runWhenDue(future, at: future.record.runAt!)
    }

    /// An attempt of `future` failed and its policy gives it another at `retryAt`: it waits as
    /// a scheduled task does, holding no worker, and is cancelled by a shutdown that comes first.
    func retry(_ future: Future, at retryAt: Date) {
        store.retryingCount.add(1, ordering: .relaxed)
        onRetrying.withLock { $0 }?.call(future)
        runWhenDue(future, at: retryAt)
        if timer.isClosed { future.cancel(because: Self.notRunAtShutdown) }
    }

    /// Told of every attempt that failed and will be retried, once its future is `retrying`: a
    /// host that keeps tasks on disk records it there.
    package func onRetrying(_ handler: @escaping @Sendable (Future) -> Void) {
        onRetrying.withLock { $0 = StoredHandler(handler) }
    }

    private let onRetrying = Mutex<StoredHandler<Future>?>(nil)

    /// Told of every waiting task whose prerequisites all finished, once it is queued or scheduled.
    package func onReleased(_ handler: @escaping @Sendable (Future) -> Void) {
        onReleased.withLock { $0 = StoredHandler(handler) }
    }

    private let onReleased = Mutex<StoredHandler<Future>?>(nil)

    /// Asks the running attempt of `future` to stop once it has run `timeout`.
    func armTimeout(of future: Future, after timeout: Duration) {
        let attempt = future.attempt
        let token = timer.schedule(at: clock.now.addingTimeInterval(timeout.secondsAsDouble)) { [weak future] in
            future?.requestStop(.timedOut(after: timeout), attempt: attempt)
        }
        if !future.setTimeoutToken(token, attempt: attempt) { timer.cancel(token) }
    }

    /// Queues `future` (scheduled or retrying) on the timer at `due`.
    private func runWhenDue(_ future: Future, at due: Date) {
        let id = future.id
        scheduledFutures.withLock { $0[id] = future }
        // Weak: the tables hold a future until it ends, and one cancelled long before its time
        // leaves only this small closure in the timer's heap, not the task.
        let token = timer.schedule(at: due) { [weak self, weak future] in
            guard let self, let future else { return }
            self.scheduledFutures.withLock { _ = $0.removeValue(forKey: id) }
            if future.becomeDue() && !self.pool.submit(future) { future.cancel(because: Self.notRunAtShutdown) }
        }
        future.addDoneCallback { [weak self] ended in
            guard let self, ended.state == .cancelled else { return }
            self.scheduledFutures.withLock { _ = $0.removeValue(forKey: id) }
            self.timer.cancel(token)
        }
    }

    // MARK: - Queues

    /// Adds a named queue, or changes its limit: at most `maxRunning` of its tasks run at once
    /// (nil: as many as there are workers). `default` is always there.
    ///
    /// ```swift
    /// scheduler.configureQueue("uploads", maxRunning: 2)
    /// try scheduler.start({ try upload(file) }, options: TaskOptions(queue: "uploads", priority: 10))
    /// ```
    public func configureQueue(_ name: String, maxRunning: Int?) {
        pool.configureQueue(name, maxRunning: maxRunning.map { Swift.max(1, $0) })
    }

    /// Pauses a queue: none of its pending tasks starts until ``resumeQueue(_:)``; running ones
    /// finish. At shutdown its pending tasks end cancelled (``SchedulerError/Code/shutDown``).
    public func pauseQueue(_ name: String) throws(SchedulerError) {
        guard pool.setPaused(name, true) else { throw unknownQueue(name) }
    }

    /// Lets a paused queue start tasks again.
    public func resumeQueue(_ name: String) throws(SchedulerError) {
        guard pool.setPaused(name, false) else { throw unknownQueue(name) }
    }

    /// Every queue with its limit, state and counts, `default` first.
    public var queues: [QueueStatistics] { pool.queueStatistics }

    private func unknownQueue(_ name: String) -> SchedulerError {
        SchedulerError(.unknownQueue, "no queue named \"\(name)\"; queues: \(queues.map(\.name).joined(separator: ", "))")
    }

    /// Wakes sleeping workers for the tasks queued by ``start(_:wakingWorker:_:)``.
    package func wakeWorkers() {
        pool.wakeIdleWorkers()
    }

    /// Starts prepared bodies under records made beforehand, in order, taking the tables' lock and
    /// the queue's lock once for all of them: for hosts that accept tasks in batches (a group
    /// commit). Each entry's result is its new future, or why it was not started
    /// (``SchedulerError/Code/duplicateID``, ``SchedulerError/Code/shutDown``).
    public func start(
        contentsOf batch: [(record: TaskRecord, body: @Sendable (TaskID) throws -> any Sendable)]
    ) -> [Result<Future, SchedulerError>] {
        // Tasks with options (queues, dependencies…) go one by one, in their place in the order.
        guard batch.allSatisfy({ !$0.record.hasOptions }) else {
            var results: [Result<Future, SchedulerError>] = []
            var plain: [(record: TaskRecord, body: @Sendable (TaskID) throws -> any Sendable)] = []
            for entry in batch {
                if !entry.record.hasOptions {
                    plain.append(entry)
                    continue
                }
                if !plain.isEmpty {
                    results += startPlain(plain)
                    plain.removeAll()
                }
                do throws(SchedulerError) {
                    results.append(.success(try insert(entry.record, wakingWorker: true, history: nil, entry.body)))
                } catch {
                    results.append(.failure(error))
                }
            }
            if !plain.isEmpty { results += startPlain(plain) }
            if blocksCallerOnStart && results.contains(where: { if case .success = $0 { true } else { false } }) { waitUntilStopped() }
            return results
        }
        let results = startPlain(batch)
        if blocksCallerOnStart && results.contains(where: { if case .success = $0 { true } else { false } }) { waitUntilStopped() }
        return results
    }

    /// ``start(contentsOf:)`` for records without options, under one lock of the tables and one of the queue.
    private func startPlain(
        _ batch: [(record: TaskRecord, body: @Sendable (TaskID) throws -> any Sendable)]
    ) -> [Result<Future, SchedulerError>] {
        let later = batch.map { isLater($0.record) }
        let inserted = store.insert(ids: batch.map(\.record.id)) { index, sequence in
            let (record, body) = batch[index]
            return Future(record: record, sequence: sequence, store: store, host: self, scheduled: later[index], body: body)
        }
        var queued: [Future] = []
        var waiting: [Future] = []
        for (index, future) in inserted.enumerated() {
            guard let future else { continue }
            if later[index] { waiting.append(future) } else { queued.append(future) }
        }
        // A closed pool refuses even an empty batch: then the scheduled ones are taken back too.
        let accepted = pool.submit(contentsOf: queued)
        if accepted {
            for future in waiting { startWhenDue(future) }
        } else {
            for future in inserted.compactMap({ $0 }).reversed() { store.withdraw(future) }
        }
        return zip(batch, inserted).map { entry, future -> Result<Future, SchedulerError> in
            guard let future else {
                return .failure(SchedulerError(.duplicateID, "a task with id \(entry.record.id) is in the tables already"))
            }
            return accepted
                ? .success(future)
                : .failure(SchedulerError(.shutDown, "the scheduler is shut down and accepts no new tasks"))
        }
    }

    /// A fresh task id, from the same source as the ids `start` draws: for hosts that record a
    /// task durably under its id before they start it with ``start(_:_:)``.
    public func newTaskID() -> TaskID {
        store.newID()
    }

    /// Puts an ended task from an earlier life of the host back in the tables, as the latest,
    /// under the retention bound: how a host that keeps its history on disk restores it at start.
    /// Nothing runs. Restore in submission order, before starting new tasks.
    ///
    /// - Parameters:
    ///   - state: a final state (``FutureState/isDone``); anything else is a programming error.
    ///   - outcome: the value or error ``Future/outcome`` will give.
    /// - Throws: ``SchedulerError/Code/duplicateID`` if the tables hold `record.id` already.
    @discardableResult
    public func restore(
        _ record: TaskRecord, state: FutureState, startedAt: Date?, endedAt: Date?,
        outcome: Result<any Sendable, any Error>, attempts: [TaskAttempt] = []
    ) throws(SchedulerError) -> Future {
        precondition(state.isDone, "only an ended task can be restored, not a \(state) one")
        guard
            let future = store.restore(
                id: record.id,
                { sequence in
                    Future(
                        restoring: record, sequence: sequence, state: state, startedAt: startedAt, endedAt: endedAt,
                        outcome: outcome, attempts: attempts)
                })
        else {
            throw SchedulerError(.duplicateID, "a task with id \(record.id) is in the tables already")
        }
        return future
    }

    /// Makes ``latestID`` the id an earlier life of the host gave last, when retention has since
    /// removed that task from the tables: ``removeEnded(endedBefore:)`` keeps ``latestID``, and a
    /// restart should too. Call after restoring, before starting new tasks.
    public func restoreLatestID(_ id: TaskID) {
        store.restoreLatest(id)
    }

    /// Removes ended tasks (finished, failed, cancelled, interrupted) from the tables; with
    /// `endedBefore`, only those that ended before it; never those in `kept` (a host keeps the
    /// tasks whose end it has not yet written down). Pending and running tasks stay, and so does
    /// ``latestID``. Returns the ids removed, oldest first.
    @discardableResult
    public func removeEnded(endedBefore cutoff: Date? = nil, keeping kept: Set<TaskID> = []) -> [TaskID] {
        store.removeEnded { id, snapshot in
            if !kept.isEmpty && kept.contains(id) { return false }
            guard let cutoff else { return true }
            return (snapshot.endedAt ?? .distantPast) < cutoff
        }
    }

    /// Removes the chosen tasks from the tables if they have ended; returns the ids removed,
    /// oldest first (those not ended, or not in the tables, are not).
    @discardableResult
    public func removeEnded(_ ids: Set<TaskID>) -> [TaskID] {
        guard !ids.isEmpty else { return [] }
        return store.removeEnded { id, _ in ids.contains(id) }
    }

    /// Queues a future just inserted in the store; takes it back if the pool is closed.
    private func enqueue(_ future: Future, wakingWorker: Bool = true) throws(SchedulerError) {
        guard pool.submit(future, wakingWorker: wakingWorker) else {
            store.withdraw(future)
            throw SchedulerError(.shutDown, "the scheduler is shut down and accepts no new tasks")
        }
    }

    /// The outcome of a task whose time came only after the shutdown.
    static let notRunAtShutdown = SchedulerError(.shutDown, "not run: the scheduler shut down before the time it was to run at")

    /// Overridden by ``BlockingScheduler``.
    var blocksCallerOnStart: Bool { false }

    // MARK: - Shutting down

    /// Stops the scheduler: `start` is refused from now on, ``stopped`` turns true, and
    /// ``sleep(for:)`` wakes in every task. Queued tasks still run unless `cancelPending`.
    ///
    /// With `wait`, returns once every queued and running task has ended. Called from inside one
    /// of its own tasks, it waits for all the others. Calling it again is harmless.
    public func shutdown(wait: Bool = true, cancelPending: Bool = false) {
        timer.close()
        // Their time will not come in this scheduler: they end cancelled (a host that keeps them
        // on disk starts them again in its next life).
        for future in scheduledFutures.withLock({ futures in
            defer { futures.removeAll() }
            return Array(futures.values)
        }) {
            future.cancel(because: Self.notRunAtShutdown)
        }
        let (queued, held) = pool.close(takingQueued: cancelPending)
        for future in queued { future.cancel() }
        // A paused queue's tasks never start in this scheduler: like scheduled ones, they are the
        // next life's.
        for future in held { future.cancel(because: Self.notRunAtShutdown) }
        stopSignal.withLock { stopSignal.broadcast() }
        if wait { _ = pool.awaitDrained(until: nil) }
    }

    /// After ``shutdown(wait:cancelPending:)``, waits until every task has ended or `timeout`
    /// passes (nil: no limit). Returns whether all ended. Before shutdown it waits for shutdown first.
    @discardableResult
    public func awaitTermination(timeout: Duration? = nil) -> Bool {
        pool.awaitDrained(until: timeout.map(MonotonicInstant.after))
    }

    /// Suspends until the scheduler is shut down and every task has ended.
    public func awaitTermination() async {
        await withCheckedContinuation { continuation in
            pool.whenDrained { continuation.resume() }
        }
    }

    /// Sleeps for `duration`, or less if the scheduler stops meanwhile, or (called from a task)
    /// the task is asked to stop (``Future/kill(by:)``, its timeout): the sleep for cooperative
    /// loops, so that neither `shutdown(wait: true)` nor a kill waits out a whole interval.
    /// Returns true if it slept the whole time, false if woken by a stop.
    ///
    /// ```swift
    /// try scheduler.start({ (interval: Duration) in
    ///     while !scheduler.stopped {
    ///         record(Date())
    ///         scheduler.sleep(for: interval)
    ///     }
    /// }, args: .seconds(3))
    /// ```
    @discardableResult
    public func sleep(for duration: Duration) -> Bool {
        let deadline = MonotonicInstant.after(duration)
        let task = Future.current
        let stopSignal = self.stopSignal
        let token = task?.onStopRequest { stopSignal.withLock { stopSignal.broadcast() } }
        defer { if let task, let token { task.removeStopHandler(token) } }
        let interrupted = { [self] in stopped || (task?.isStopRequested ?? false) }
        return stopSignal.withLock {
            while !interrupted() {
                if !stopSignal.wait(until: deadline) { return !interrupted() }
            }
            return false
        }
    }

    func waitUntilStopped() {
        stopSignal.withLock {
            while !stopped { stopSignal.wait() }
        }
    }

    // MARK: - The @task decorator

    /// Binds `fn` to this scheduler once, the seed's `@task(scheduler)`: the result's
    /// ``TaskFunction/start(_:)`` starts it with its own typed arguments.
    ///
    /// ```swift
    /// let now = scheduler.task("now") { (cost: Double) in try clock(after: cost) }
    /// try now.start(1)
    /// ```
    public func task<each Arg: Sendable, Value: Sendable>(
        _ name: String,
        _ fn: @escaping @Sendable (repeat each Arg) throws -> Value
    ) -> TaskFunction<repeat each Arg, Value> {
        TaskFunction(name: name, scheduler: self, function: fn)
    }
}
