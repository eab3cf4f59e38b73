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
        var body: (@Sendable () throws -> any Sendable)?
        var outcome: Result<any Sendable, any Error>?
        var startedAt: Date?
        var endedAt: Date?
        var callbacks: [(token: Int, callback: @Sendable (Future) -> Void)] = []
        var nextToken = 0
        /// Told when the future is cancelled. Strong, not weak (a weak reference gives the store a
        /// side table and slows every retain of it); dropped when the future ends, so no cycle
        /// outlives the pending work.
        var store: TaskStore?
    }

    init(
        record: TaskRecord, sequence: Int, store: TaskStore, scheduled: Bool = false,
        body: @escaping @Sendable () throws -> any Sendable
    ) {
        self.record = record
        self.sequence = sequence
        var storage = Storage()
        storage.state = scheduled ? .scheduled : .pending
        storage.body = body
        storage.store = store
        self.storage = Mutex(storage)
    }

    /// An ended future as it was recorded before: the tables' history, brought back by a host.
    init(
        restoring record: TaskRecord, sequence: Int, state: FutureState, startedAt: Date?, endedAt: Date?,
        outcome: Result<any Sendable, any Error>
    ) {
        precondition(state.isDone, "only an ended task can be restored, not a \(state) one")
        self.record = record
        self.sequence = sequence
        var storage = Storage()
        storage.state = state
        storage.startedAt = startedAt
        storage.endedAt = endedAt
        storage.outcome = outcome
        self.storage = Mutex(storage)
    }

    /// The task's id.
    public var id: TaskID { record.id }

    /// The current state.
    public var state: FutureState { storage.withLock { $0.state } }

    /// True once the task finished, failed or was cancelled.
    public var isDone: Bool { state.isDone }

    /// When a worker began running it; nil while pending or if cancelled.
    public var startedAt: Date? { storage.withLock { $0.startedAt } }

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
    }

    /// ``Snapshot`` of this future, read under one lock.
    public var snapshot: Snapshot {
        storage.withLock { Snapshot(state: $0.state, startedAt: $0.startedAt, endedAt: $0.endedAt, outcome: $0.outcome) }
    }

    /// Cancels the task if it has not started (scheduled or pending). Returns true if it is now cancelled
    /// (also when it already was), false if it is running or has ended otherwise.
    @discardableResult
    public func cancel() -> Bool {
        cancel(because: SchedulerError(.cancelled, "task \(record.id) was cancelled before it ran"))
    }

    /// ``cancel()`` with the error its outcome keeps: the shutdown's own reason for a scheduled task.
    @discardableResult
    func cancel(because reason: SchedulerError) -> Bool {
        let (cancelled, callbacks, store, wasScheduled) = storage.withLock {
            storage -> (Bool, [(token: Int, callback: @Sendable (Future) -> Void)], TaskStore?, Bool) in
            switch storage.state {
            case .cancelled:
                return (true, [], nil, false)
            case .running, .finished, .failed, .interrupted:
                return (false, [], nil, false)
            case .scheduled, .pending:
                let wasScheduled = storage.state == .scheduled
                storage.state = .cancelled
                storage.body = nil
                storage.outcome = .failure(reason)
                storage.endedAt = Date()
                defer {
                    storage.callbacks = []
                    storage.store = nil
                }
                return (true, storage.callbacks, storage.store, wasScheduled)
            }
        }
        if wasScheduled { store?.scheduledCount.add(-1, ordering: .relaxed) }
        store?.futureWasCancelled(self)
        for entry in callbacks { entry.callback(self) }
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

    /// A scheduled future's time has come: it becomes pending. False if it was cancelled first.
    func becomeDue() -> Bool {
        let (due, store) = storage.withLock { storage -> (Bool, TaskStore?) in
            guard storage.state == .scheduled else { return (false, nil) }
            storage.state = .pending
            return (true, storage.store)
        }
        if due { store?.scheduledCount.add(-1, ordering: .relaxed) }
        return due
    }

    /// Runs the body on the calling worker thread, unless the future was cancelled first.
    /// Returns the final state, or nil if it did not run.
    func run() -> FutureState? {
        let body: (@Sendable () throws -> any Sendable)? = storage.withLock { storage in
            guard storage.state == .pending else { return nil }
            storage.state = .running
            storage.startedAt = Date()
            defer { storage.body = nil }
            return storage.body
        }
        guard let body else { return nil }
        let outcome: Result<any Sendable, any Error>
        do { outcome = .success(try body()) } catch { outcome = .failure(error) }
        let final: FutureState = if case .success = outcome { .finished } else { .failed }
        let callbacks = storage.withLock { storage in
            storage.state = final
            storage.outcome = outcome
            storage.endedAt = Date()
            defer {
                storage.callbacks = []
                storage.store = nil
            }
            return storage.callbacks
        }
        for entry in callbacks { entry.callback(self) }
        return final
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
