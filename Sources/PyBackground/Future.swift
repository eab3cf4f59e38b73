import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The eventual outcome of a started task: the seed's `concurrent.futures.Future`.
///
/// A future is pending until a worker takes it, running while it executes, and then finished
/// (it returned), failed (it threw; the error is kept) or cancelled (``cancel()`` before it ran).
/// A task's error never reaches the pool: it becomes this future's failure.
///
/// ```swift
/// let id = try scheduler.start({ (cost: Double) in try work(cost) }, args: 1)
/// let future = scheduler.futures[id]!
/// future.addDoneCallback { print("\($0.id) ended \($0.state)") }
/// let value = try future.result(as: String.self, timeout: .seconds(5))   // blocking
/// let same = try await future.value(as: String.self)                     // async
/// ```
public final class Future: Sendable, CustomStringConvertible {
    /// What was started.
    public let record: TaskRecord
    /// Submission order within its scheduler; keeps the tables ordered without a second index.
    let sequence: Int
    private let storage: Mutex<Storage>

    struct Storage {
        var state: FutureState = .pending
        /// Called with the task's id: a body that closed over it was one more allocation per task.
        var body: (@Sendable (TaskID) throws -> any Sendable)?
        /// The outcome in two optionals, not one `Result<any Sendable, any Error>?`: that enum's
        /// layout takes the run time's help to read its case, and each task copied and destroyed
        /// it several times on its way in (about 580 instructions a task under callgrind: issue 20).
        var value: (any Sendable)?
        var failure: (any Error)?
        var outcome: Result<any Sendable, any Error>? {
            get {
                if let failure { return .failure(failure) }
                if let value { return .success(value) }
                return nil
            }
            set {
                switch newValue {
                case .success(let newValue)?: (value, failure) = (newValue, nil)
                case .failure(let error)?: (value, failure) = (nil, error)
                case nil: (value, failure) = (nil, nil)
                }
            }
        }
        /// Times as seconds, NaN for none: 8 bytes each, not a padded 16 (see ``TaskRecord``).
        private var startedAtSeconds = Double.nan
        private var endedAtSeconds = Double.nan
        var startedAt: Date? {
            get { startedAtSeconds.isNaN ? nil : Date(timeIntervalSinceReferenceDate: startedAtSeconds) }
            set { startedAtSeconds = newValue?.timeIntervalSinceReferenceDate ?? .nan }
        }
        var endedAt: Date? {
            get { endedAtSeconds.isNaN ? nil : Date(timeIntervalSinceReferenceDate: endedAtSeconds) }
            set { endedAtSeconds = newValue?.timeIntervalSinceReferenceDate ?? .nan }
        }
        var callbacks: [(token: Int, callback: @Sendable (Future) -> Void)] = []
        var nextToken = 0
        /// Told when the future is cancelled. Strong, not weak (a weak reference gives the store a
        /// side table and slows every retain of it); dropped when the future ends, so no cycle
        /// outlives the pending work.
        var store: TaskStore?
        /// What only some tasks need (a host, attempts, a stop request), made on first use: a
        /// plain task's storage stays as small as it was before any of it existed (measured: the
        /// larger storage cost a third of the core's throughput in copies).
        var flow: FlowState?

        init(state: FutureState = .pending, body: (@Sendable (TaskID) throws -> any Sendable)? = nil, store: TaskStore? = nil, flow: FlowState? = nil) {
            self.state = state
            self.body = body
            self.store = store
            self.flow = flow
        }

        /// The scheduler, for a task with options (its timer and queue); nil for the rest.
        var host: Scheduler? {
            get { flow?.host }
            set { if newValue != nil || flow != nil { madeFlow().host = newValue } }
        }
        /// The attempt running or last run: 1 for the first, 0 before it.
        var attempt: Int {
            get { flow?.attempt ?? (startedAt == nil ? 0 : 1) }
            set { if flow != nil || newValue != (startedAt == nil ? 0 : 1) { madeFlow().attempt = newValue } }
        }
        /// Earlier attempts that failed and were followed by another, oldest first.
        var attempts: [TaskAttempt] {
            get { flow?.attempts ?? [] }
            set { if flow != nil || !newValue.isEmpty { madeFlow().attempts = newValue } }
        }
        /// When a `retrying` future runs again.
        var retryAt: Date? {
            get { flow?.retryAt }
            set { if flow != nil || newValue != nil { madeFlow().retryAt = newValue } }
        }
        /// The running attempt was asked to stop.
        var stop: StopRequest? {
            get { flow?.stop }
            set { if flow != nil || newValue != nil { madeFlow().stop = newValue } }
        }
        var stopHandlers: [(token: Int, handler: @Sendable () -> Void)] {
            get { flow?.stopHandlers ?? [] }
            set { if flow != nil || !newValue.isEmpty { madeFlow().stopHandlers = newValue } }
        }
        /// The timer entry of the running attempt's timeout.
        var timeoutToken: Int? {
            get { flow?.timeoutToken }
            set { if flow != nil || newValue != nil { madeFlow().timeoutToken = newValue } }
        }

        private mutating func madeFlow() -> FlowState {
            if let flow { return flow }
            let made = FlowState(attempt: startedAt == nil ? 0 : 1)
            flow = made
            return made
        }
    }

    /// The part of a future's storage that only tasks with options, attempts or a stop request
    /// need; read and written only under the future's lock.
    final class FlowState: @unchecked Sendable {
        var host: Scheduler?
        var attempt: Int
        var attempts: [TaskAttempt] = []
        var retryAt: Date?
        var stop: StopRequest?
        var stopHandlers: [(token: Int, handler: @Sendable () -> Void)] = []
        var timeoutToken: Int?

        init(attempt: Int) { self.attempt = attempt }

        /// A task's flow state at its start: its host, and what it knows of earlier attempts.
        init(host: Scheduler?, history: AttemptHistory?) {
            self.host = host
            self.attempt = history?.attempts.last?.number ?? 0
            self.attempts = history?.attempts ?? []
            self.retryAt = history?.retryAt
        }
    }

    init(
        record: __owned TaskRecord, sequence: Int, store: TaskStore, host: Scheduler?, scheduled: Bool = false,
        history: AttemptHistory? = nil, body: @escaping @Sendable (TaskID) throws -> any Sendable
    ) {
        // The record is moved in first and read from here on: read before, it was copied in (an
        // outlined copy and destroy of every field, a task), not moved.
        self.record = record
        self.sequence = sequence
        let hasOptions = self.record.hasOptions
        let state: FutureState =
            history?.retryAt != nil
            ? .retrying : hasOptions && !self.record.options.after.isEmpty ? .waiting : scheduled ? .scheduled : .pending
        let flow = hasOptions || history != nil ? FlowState(host: hasOptions ? host : nil, history: history) : nil
        self.storage = Mutex(Storage(state: state, body: body, store: store, flow: flow))
    }

    /// A plain task's future (no options, not scheduled, no history), its record made in place:
    /// ``Scheduler/start(name:args:kwargs:options:_:)``'s path. A record made by the caller and
    /// passed in was copied into the future and then destroyed, every field retained and released
    /// once more per task (callgrind, BENCHMARKS.md issue 20).
    init(
        id: TaskID, name: String, args: [any Sendable], kwargs: [KeywordArgument], submittedAt: Date, sequence: Int, store: TaskStore,
        body: @escaping @Sendable (TaskID) throws -> any Sendable
    ) {
        self.record = TaskRecord(id: id, name: name, args: args, kwargs: kwargs, submittedAt: submittedAt)
        self.sequence = sequence
        self.storage = Mutex(Storage(state: .pending, body: body, store: store, flow: nil))
    }

    /// An ended future as it was recorded before: the tables' history, brought back by a host.
    init(
        restoring record: TaskRecord, sequence: Int, state: FutureState, startedAt: Date?, endedAt: Date?,
        outcome: Result<any Sendable, any Error>, attempts: [TaskAttempt] = []
    ) {
        precondition(state.isDone, "only an ended task can be restored, not a \(state) one")
        self.record = record
        self.sequence = sequence
        var storage = Storage()
        storage.state = state
        storage.startedAt = startedAt
        storage.endedAt = endedAt
        storage.outcome = outcome
        storage.attempts = attempts
        storage.attempt = (attempts.last?.number ?? 0) + (startedAt == nil ? 0 : 1)
        self.storage = Mutex(storage)
    }

    /// The task's id.
    public var id: TaskID { record.id }

    /// The current state.
    public var state: FutureState { storage.withLock { $0.state } }

    /// True once the task finished, failed or was cancelled.
    public var isDone: Bool { state.isDone }

    /// When a worker began running its latest attempt; nil while pending or if cancelled.
    public var startedAt: Date? { storage.withLock { $0.startedAt } }

    /// The attempt running or last run: 1 for the first, 0 before it ran.
    public var attempt: Int { storage.withLock { $0.attempt } }

    /// Earlier attempts, oldest first, each of which failed and was followed by another (see
    /// ``RetryPolicy``); the latest attempt is this future's own start, end and outcome.
    public var attempts: [TaskAttempt] { storage.withLock { $0.attempts } }

    /// When a ``FutureState/retrying`` task runs again; nil otherwise.
    public var retryAt: Date? { storage.withLock { $0.retryAt } }

    /// The request to stop the running attempt, if one was made (see ``kill(by:)``, ``TaskOptions/timeout``).
    public var stopRequest: StopRequest? { storage.withLock { $0.stop } }

    /// Whether the running attempt was asked to stop: a cooperative task checks it and ends.
    public var isStopRequested: Bool { storage.withLock { $0.stop != nil } }

    /// When it finished, failed or was cancelled; nil until then.
    public var endedAt: Date? { storage.withLock { $0.endedAt } }

    /// The value or error, without waiting; nil while pending or running.
    /// A cancelled task's outcome is a ``SchedulerError`` with code ``SchedulerError/Code/cancelled``.
    public var outcome: Result<any Sendable, any Error>? { storage.withLock { $0.outcome } }

    /// The error a failed task threw, without waiting; nil otherwise.
    public var error: (any Error)? {
        storage.withLock { storage in
            guard storage.state == .failed, case .failure(let error)? = storage.outcome else { return nil }
            return error
        }
    }

    public var description: String { "Future(\(record), \(state))" }

    /// State, times and outcome as they were at one moment, so they agree with each other
    /// (reading the properties one by one can straddle the task's end).
    public struct Snapshot: Sendable {
        public let state: FutureState
        public let startedAt: Date?
        public let endedAt: Date?
        /// The value or error; nil while pending or running.
        public let outcome: Result<any Sendable, any Error>?
        /// 1 for the first attempt, 0 before it ran.
        public let attempt: Int
        /// Earlier attempts, oldest first.
        public let attempts: [TaskAttempt]
        /// When a retrying task runs again.
        public let retryAt: Date?
        /// The running attempt's stop request, if any.
        public let stopRequest: StopRequest?
    }

    /// ``Snapshot`` of this future, read under one lock.
    public var snapshot: Snapshot {
        storage.withLock {
            Snapshot(
                state: $0.state, startedAt: $0.startedAt, endedAt: $0.endedAt, outcome: $0.outcome, attempt: $0.attempt,
                attempts: $0.attempts, retryAt: $0.retryAt, stopRequest: $0.stop)
        }
    }

    /// Cancels the task if it is not running (scheduled, pending or retrying). Returns true if it is
    /// now cancelled (also when it already was), false if it is running or has ended otherwise.
    /// A running task is stopped with ``kill(by:)``.
    @discardableResult
    public func cancel() -> Bool {
        cancel(because: SchedulerError(.cancelled, "task \(record.id) was cancelled before it ran"))
    }

    /// ``cancel()`` with the error its outcome keeps: the shutdown's own reason for a scheduled task.
    @discardableResult
    func cancel(because reason: SchedulerError) -> Bool {
        let (cancelled, callbacks, store, waited) = storage.withLock {
            storage -> (Bool, [(token: Int, callback: @Sendable (Future) -> Void)], TaskStore?, FutureState?) in
            switch storage.state {
            case .cancelled:
                return (true, [], nil, nil)
            case .running, .finished, .failed, .interrupted:
                return (false, [], nil, nil)
            case .scheduled, .waiting, .pending, .retrying:
                let waited = storage.state
                storage.state = .cancelled
                storage.body = nil
                storage.outcome = .failure(reason)
                storage.endedAt = Date()
                storage.retryAt = nil
                defer {
                    storage.callbacks = []
                    storage.store = nil
                    storage.host = nil
                }
                return (true, storage.callbacks, storage.store, waited)
            }
        }
        switch waited {
        case .scheduled?: store?.scheduledCount.add(-1, ordering: .relaxed)
        case .retrying?: store?.retryingCount.add(-1, ordering: .relaxed)
        case .waiting?: store?.waitingCount.add(-1, ordering: .relaxed)
        default: break
        }
        store?.futureWasCancelled(self)
        for entry in callbacks { entry.callback(self) }
        if waited != nil { store?.observer?.taskEnded(self) }
        return cancelled
    }

    /// Calls `callback` with this future once it is done: at once, on the caller's thread, if it
    /// already is; otherwise on the thread that ends it. A callback must not block for long.
    public func addDoneCallback(_ callback: @escaping @Sendable (Future) -> Void) {
        _ = addCallback(callback)
    }

    /// Blocks until the task is done or `timeout` passes (nil: no limit). Returns whether it is done.
    @discardableResult
    public func wait(timeout: Duration? = nil) -> Bool {
        if isDone { return true }
        let latch = Latch()
        let token = addCallback { _ in latch.open() }
        guard let token else { return true }
        if latch.wait(until: timeout.map(MonotonicInstant.after)) { return true }
        removeCallback(token)
        return isDone
    }

    /// Blocks until the task is done and returns its value, or throws its error.
    ///
    /// Throws ``SchedulerError/Code/timedOut`` if `timeout` passes first and
    /// ``SchedulerError/Code/cancelled`` if the task was cancelled.
    public func result(timeout: Duration? = nil) throws -> any Sendable {
        guard wait(timeout: timeout), let outcome else {
            throw SchedulerError(.timedOut, "task \(record.id) did not end within \(timeout.map { "\($0)" } ?? "the wait")")
        }
        return try outcome.get()
    }

    /// ``result(timeout:)`` cast to the type the task returns.
    public func result<Value>(as type: Value.Type, timeout: Duration? = nil) throws -> Value {
        try cast(result(timeout: timeout), to: type)
    }

    /// The value, awaited without blocking a thread; throws the task's error.
    /// Cancelling the awaiting Swift task stops the wait with `CancellationError`, not the task.
    public var value: any Sendable {
        get async throws {
            let resumer = ContinuationResumer()
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { continuation in
                    resumer.install(continuation)
                    let token = addCallback { future in resumer.resume(with: future.outcome!) }
                    if let token { resumer.onCancel { self.removeCallback(token) } } else { resumer.resume(with: outcome!) }
                }
            } onCancel: {
                resumer.resume(with: .failure(CancellationError()))
            }
        }
    }

    /// ``value`` cast to the type the task returns.
    public func value<Value>(as type: Value.Type) async throws -> Value {
        try await cast(value, to: type)
    }

    // MARK: - Driven by the worker pool

    /// The tasks a waiting future runs after have all finished: it becomes scheduled (`later`) or
    /// pending. False if it was cancelled first.
    func becomeReady(later: Bool) -> Bool {
        let (ready, store) = storage.withLock { storage -> (Bool, TaskStore?) in
            guard storage.state == .waiting else { return (false, nil) }
            storage.state = later ? .scheduled : .pending
            return (true, storage.store)
        }
        guard ready else { return false }
        store?.waitingCount.add(-1, ordering: .relaxed)
        return true
    }

    /// A scheduled or retrying future's time has come: it becomes pending. False if it was
    /// cancelled first.
    func becomeDue() -> Bool {
        let (waited, store) = storage.withLock { storage -> (FutureState?, TaskStore?) in
            guard storage.state == .scheduled || storage.state == .retrying else { return (nil, nil) }
            defer {
                storage.state = .pending
                storage.retryAt = nil
            }
            return (storage.state, storage.store)
        }
        switch waited {
        case .scheduled?: store?.scheduledCount.add(-1, ordering: .relaxed)
        case .retrying?: store?.retryingCount.add(-1, ordering: .relaxed)
        default: return false
        }
        return true
    }

    /// What a worker takes from a pending future as it starts it. A struct, not a tuple: a closure
    /// in a tuple that a generic function (the lock's `withLock`) returns is wrapped in a
    /// reabstraction thunk, one more allocation and call a task (callgrind, issue 20); a struct's
    /// fields keep their own representation.
    private struct Claim {
        var body: (@Sendable (TaskID) throws -> any Sendable)?
        var host: Scheduler?
        var store: TaskStore?
    }

    /// Runs the body on the calling worker thread, unless the future was cancelled first.
    /// Returns the state it left the future in (final, or `retrying`), or nil if it did not run.
    func run(in slot: CurrentFuture? = nil) -> FutureState? {
        let claim = storage.withLock { storage -> Claim in
            guard storage.state == .pending else { return Claim() }
            storage.state = .running
            // A plain task's one attempt is implied by its start; only a task with options counts.
            guard let flow = storage.flow, let host = flow.host else {
                storage.startedAt = Date()
                let claim = Claim(body: storage.body, store: storage.store)
                // Tables with a retention bound take the body back from the thread that made it,
                // once this worker hands the task over (``TaskStore/futuresEnded(_:)``).
                if storage.store?.keepFinished == nil { storage.body = nil }
                return claim
            }
            flow.attempt += 1
            storage.startedAt = Date()
            // Kept for the next attempt while a retry policy may ask for one.
            return Claim(body: storage.body, host: host, store: storage.store)
        }
        guard let body = claim.body else { return nil }
        let (host, store) = (claim.host, claim.store)
        let observer = store?.observer
        observer?.taskStarted(self)
        if let host, let timeout = record.options.timeout { host.armTimeout(of: self, after: timeout) }
        let previous = slot?.future
        slot?.future = self
        // Moved, not copied, into the storage (see ``Storage/value``).
        var value: (any Sendable)?
        var failure: (any Error)?
        do {
            value = try body(record.id)
        } catch {
            failure = error
        }
        slot?.future = previous
        if let host { return end(attempt: failure.map { .failure($0) } ?? .success(value!), host: host) }
        let succeeded = failure == nil
        let (final, callbacks) = storage.withLock { storage in
            var final: FutureState = succeeded ? .finished : .failed
            swap(&storage.value, &value)
            swap(&storage.failure, &failure)
            if let stop = storage.stop {
                final = stop.finalState
                if succeeded { storage.outcome = .failure(stop.error) }
                storage.stop = nil
                storage.stopHandlers = []
            }
            storage.state = final
            storage.endedAt = Date()
            defer {
                storage.callbacks = []
                storage.store = nil
            }
            return (final, storage.callbacks)
        }
        for entry in callbacks { entry.callback(self) }
        observer?.taskEnded(self)
        return final
    }

    /// Releases the body of a task that ended: called by the tables on the thread that inserts
    /// tasks, which allocated it. Released by a worker, every task's closure went back across
    /// threads to that thread's malloc arena, under its lock, and the inserting thread (the event
    /// loop) spent 5% of its time waking workers that waited on it (perf under pipelined SUBMIT:
    /// issue 20).
    func releaseBody() {
        let body = storage.withLock { storage in
            defer { storage.body = nil }
            return storage.body
        }
        withExtendedLifetime(body) {}
    }

    /// How an attempt of a task with options ends: asked to stop (killed: cancelled; timed out:
    /// failed), retried if its policy says so, or ended as it returned or threw.
    private func end(attempt outcome: Result<any Sendable, any Error>, host: Scheduler) -> FutureState {
        let endedAt = Date()
        let retry = record.options.retry
        let (state, callbacks, timeoutToken, retryAt) = storage.withLock {
            storage -> (FutureState, [(token: Int, callback: @Sendable (Future) -> Void)], Int?, Date?) in
            var state: FutureState
            var outcome = outcome
            if let stop = storage.stop {
                state = stop.finalState
                // A body that noticed the request threw its own account of it (with a command's
                // output, say); one that returned anyway gets the request's error.
                if case .success = outcome { outcome = .failure(stop.error) }
            } else {
                state = if case .success = outcome { .finished } else { .failed }
            }
            let timeoutToken = storage.timeoutToken
            storage.timeoutToken = nil
            storage.stop = nil
            storage.stopHandlers = []
            // Retried even once the scheduler stops: the retry is then cancelled by the shutdown,
            // and a host that keeps tasks on disk runs it in its next life instead of losing it.
            if state == .failed, case .failure(let error) = outcome, let retry,
                retry.retries(afterAttempt: storage.attempt, failure: error)
            {
                storage.attempts.append(
                    TaskAttempt(number: storage.attempt, startedAt: storage.startedAt, endedAt: endedAt, error: error))
                let delay = retry.backoff.delay(afterAttempt: storage.attempt, random: Double.random(in: 0..<1))
                let retryAt = host.clock.now.addingTimeInterval(delay.secondsAsDouble)
                storage.state = .retrying
                storage.retryAt = retryAt
                storage.startedAt = nil
                state = .retrying
                return (state, [], timeoutToken, retryAt)
            }
            storage.state = state
            storage.outcome = outcome
            storage.endedAt = endedAt
            storage.body = nil
            defer {
                storage.callbacks = []
                storage.store = nil
                storage.host = nil
            }
            return (state, storage.callbacks, timeoutToken, nil)
        }
        if let timeoutToken { host.timer.cancel(timeoutToken) }
        if let retryAt {
            host.retry(self, at: retryAt)
            return state
        }
        for entry in callbacks { entry.callback(self) }
        host.store.observer?.taskEnded(self)
        return state
    }

    // MARK: - Stopping a running task

    /// The future whose task runs on the calling thread; nil outside a task. A task reads its own
    /// stop request through it:
    ///
    /// ```swift
    /// try scheduler.start({
    ///     for chunk in chunks {
    ///         try Future.current?.checkStop()
    ///         process(chunk)
    ///     }
    /// }, options: TaskOptions(timeout: .seconds(60)))
    /// ```
    public static var current: Future? { CurrentFuture.value }

    /// Stops the task: one that has not started (scheduled, pending, retrying) is cancelled at
    /// once; a running one is asked to stop (``StopRequest``) and ends `cancelled` with
    /// ``SchedulerError/Code/killed`` once its body returns. `who` says who asked, for the record.
    /// Returns the state right after: `cancelled`, `running` (asked to stop), or the final
    /// state it had already reached.
    @discardableResult
    public func kill(by who: String) -> FutureState {
        if cancel(because: SchedulerError(.killed, "cancelled before it ran: killed by \(who)")) { return .cancelled }
        requestStop(.killed(by: who))
        return state
    }

    /// Asks the running attempt to stop; nothing if it is not running or was asked already.
    /// `attempt` (when given) must be the running one: a timeout never stops a later attempt.
    func requestStop(_ reason: StopRequest.Reason, attempt: Int? = nil) {
        let handlers = storage.withLock { storage -> [(token: Int, handler: @Sendable () -> Void)] in
            guard storage.state == .running, storage.stop == nil, attempt == nil || attempt == storage.attempt else { return [] }
            storage.stop = StopRequest(reason: reason, requestedAt: Date())
            defer { storage.stopHandlers = [] }
            return storage.stopHandlers
        }
        for entry in handlers { entry.handler() }
    }

    /// Throws the stop request's error (``StopRequest/error``) if the running attempt was asked to stop.
    public func checkStop() throws(SchedulerError) {
        if let stop = stopRequest { throw stop.error }
    }

    /// Runs `handler` when the running attempt is asked to stop (at once, on this thread, if it
    /// was already); returns a token for ``removeStopHandler(_:)``, nil when it ran at once.
    /// Handlers are dropped when the attempt ends. A host that runs a process kills it here.
    @discardableResult
    public func onStopRequest(_ handler: @escaping @Sendable () -> Void) -> Int? {
        let token: Int? = storage.withLock { storage in
            guard storage.stop == nil else { return nil }
            storage.nextToken += 1
            storage.stopHandlers.append((storage.nextToken, handler))
            return storage.nextToken
        }
        if token == nil { handler() }
        return token
    }

    /// Drops a handler added by ``onStopRequest(_:)``.
    public func removeStopHandler(_ token: Int) {
        storage.withLock { storage in storage.stopHandlers.removeAll { $0.token == token } }
    }

    /// Sleeps for `duration`, or less if the running attempt is asked to stop meanwhile. Returns
    /// true if it slept the whole time. (``Scheduler/sleep(for:)`` also wakes at the scheduler's stop.)
    @discardableResult
    public func sleep(for duration: Duration) -> Bool {
        let latch = Latch()
        let token = onStopRequest { latch.open() }
        defer { token.map(removeStopHandler) }
        return !latch.wait(until: MonotonicInstant.after(duration)) && !isStopRequested
    }

    /// Records the timer entry of the running attempt's timeout, for its end to cancel; false (and
    /// the caller drops it) if the attempt ended first.
    func setTimeoutToken(_ token: Int, attempt: Int) -> Bool {
        storage.withLock { storage in
            guard storage.state == .running, storage.attempt == attempt else { return false }
            storage.timeoutToken = token
            return true
        }
    }

    // MARK: - Callbacks

    /// Registers a callback; returns its token, or nil after calling it at once because the future is done.
    private func addCallback(_ callback: @escaping @Sendable (Future) -> Void) -> Int? {
        let token: Int? = storage.withLock { storage in
            guard !storage.state.isDone else { return nil }
            storage.nextToken += 1
            storage.callbacks.append((storage.nextToken, callback))
            return storage.nextToken
        }
        if token == nil { callback(self) }
        return token
    }

    private func removeCallback(_ token: Int) {
        storage.withLock { storage in storage.callbacks.removeAll { $0.token == token } }
    }

    private func cast<Value>(_ value: any Sendable, to type: Value.Type) throws -> Value {
        guard let typed = value as? Value else {
            throw SchedulerError(
                .resultTypeMismatch,
                "task \(record.id) returned \(Swift.type(of: value)), not \(Value.self)")
        }
        return typed
    }
}

/// A one-shot gate for a thread that blocks on a future.
private final class Latch: Sendable {
    private let lock = ConditionLock()
    private let opened = Atomic<Bool>(false)

    func open() {
        lock.withLock {
            opened.store(true, ordering: .releasing)
            lock.broadcast()
        }
    }

    /// Returns true once opened, false if the deadline passed first.
    func wait(until deadline: MonotonicInstant?) -> Bool {
        lock.withLock {
            while !opened.load(ordering: .acquiring) {
                if let deadline {
                    if !lock.wait(until: deadline) { return opened.load(ordering: .acquiring) }
                } else {
                    lock.wait()
                }
            }
            return true
        }
    }
}

/// Resumes a continuation exactly once, whichever comes first: the outcome or the awaiting task's cancellation.
private final class ContinuationResumer: Sendable {
    private enum State {
        case waiting
        case installed(CheckedContinuation<any Sendable, any Error>)
        case resolved(Result<any Sendable, any Error>)
        case done
    }
    private let state = Mutex<State>(.waiting)
    private let cleanup = Mutex<(@Sendable () -> Void)?>(nil)

    func install(_ continuation: CheckedContinuation<any Sendable, any Error>) {
        let early: Result<any Sendable, any Error>? = state.withLock { state in
            if case .resolved(let result) = state {
                state = .done
                return result
            }
            state = .installed(continuation)
            return nil
        }
        if let early { continuation.resume(with: early) }
    }

    func onCancel(_ action: @escaping @Sendable () -> Void) {
        cleanup.withLock { $0 = action }
    }

    func resume(with result: Result<any Sendable, any Error>) {
        let continuation: CheckedContinuation<any Sendable, any Error>? = state.withLock { state in
            switch state {
            case .waiting:
                state = .resolved(result)
                return nil
            case .installed(let continuation):
                state = .done
                return continuation
            case .resolved, .done: return nil
            }
        }
        guard let continuation else { return }
        continuation.resume(with: result)
        if case .failure(let error) = result, error is CancellationError {
            cleanup.withLock { $0 }?()
        }
    }
}
