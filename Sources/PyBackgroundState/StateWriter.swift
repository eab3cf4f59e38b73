import Dispatch
import PyBackground
import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

#if canImport(Glibc)
import Glibc
#endif

/// Writes changes to a ``StateStore`` by group commit: whatever is queued while one transaction
/// commits goes into the next, so a burst of submissions shares one fsync instead of paying one
/// each. Changes are written in the order they were queued; each one's completion runs, on the
/// writer's thread, once its transaction is on disk (or has failed).
///
/// ```swift
/// let writer = StateWriter(store: store, nextSequence: (rows.last?.sequence ?? 0) + 1)
/// writer.insert(row) { result in if case .success = result { acknowledge() } }
/// writer.record(.ended(id, state: .finished, startedAt: start, endedAt: end, result: "null", error: nil))
/// writer.close()    // waits for what is queued, then closes the file
/// ```
public final class StateWriter: Sendable {
    /// Runs on the writer's thread; must not block for long.
    public typealias Completion = @Sendable (Result<Void, StateStoreError>) -> Void

    /// Commit counts, for status lines and benchmarks.
    public struct Statistics: Sendable, Hashable {
        /// Transactions committed.
        public var commits = 0
        /// Changes in those transactions.
        public var changes = 0
        /// Transactions that failed (their changes are not on disk).
        public var failedCommits = 0
    }

    /// The store written to.
    public let store: StateStore
    private let queue = DispatchQueue(label: "pybgd.state.writer")
    private let onFailure: @Sendable (StateStoreError, _ changes: Int) -> Void
    private let afterBatch: @Sendable () -> Void

    private struct Entry {
        /// nil: a flush marker, nothing to write.
        var change: StateChange?
        var completion: Completion?
        /// Written again after a failed commit, until it is on disk: an end whose outcome a client
        /// may already have been told must not be lost to a full disk.
        var untilDurable = false
    }

    private struct Buffer {
        var entries: [Entry] = []
        var draining = false
        var closed = false
        var nextSequence: Int64
        /// Inserts queued and not yet committed: tasks accepted but not yet acknowledged.
        var inserts = 0
        /// Changes queued ``recordUntilDurable(_:completion:)`` whose commit failed: tried again,
        /// in their own transaction, before each later batch and on a backoff timer.
        var retained: [Entry] = []
        var retryScheduled = false
        var retryDelay = StateWriter.firstRetryDelay
    }

    /// The first wait before retained changes are tried again; it doubles up to ``maxRetryDelay``.
    static let firstRetryDelay = Duration.milliseconds(100)
    static let maxRetryDelay = Duration.seconds(5)

    private let buffer: Mutex<Buffer>
    private let counts = Mutex(Statistics())
    /// In a struct: a bare closure in a `Mutex` is wrapped in one more thunk at every access.
    private struct CommitObserver: Sendable {
        let call: @Sendable (Duration) -> Void
    }

    private let commitObserver = Mutex<CommitObserver?>(nil)

    /// Tells `handler` how long each group commit took (its transaction and fsync), on the
    /// writer's thread: the daemon's commit-latency metric.
    public func observeCommits(_ handler: @escaping @Sendable (Duration) -> Void) {
        commitObserver.withLock { $0 = CommitObserver(call: handler) }
    }

    /// - Parameters:
    ///   - nextSequence: the sequence number the next inserted task gets (one past the stored maximum).
    ///   - onFailure: told of each failed transaction, with how many changes it held.
    ///   - afterBatch: called after each group of completions (a commit's, a failure's), on the
    ///     thread that ran them: where a caller that gathers completions acts on them together.
    public init(
        store: StateStore, nextSequence: Int64,
        onFailure: @escaping @Sendable (StateStoreError, _ changes: Int) -> Void = { _, _ in },
        afterBatch: @escaping @Sendable () -> Void = {}
    ) {
        self.store = store
        self.buffer = Mutex(Buffer(nextSequence: nextSequence))
        self.onFailure = onFailure
        self.afterBatch = afterBatch
    }

    /// Queues a new task's row, numbering it in queueing order (its `sequence` is overwritten).
    public func insert(_ task: StoredTask, completion: @escaping Completion) {
        var task = task
        enqueue(completion) { buffer in
            task.sequence = buffer.nextSequence
            buffer.nextSequence += 1
            buffer.inserts += 1
            return .insert(task)
        }
    }

    /// Queues a schedule's firing (``StateChange/fired(schedule:tasks:through:)``), numbering its
    /// tasks in queueing order as ``insert(_:completion:)`` does.
    public func insertFiring(schedule: String, tasks: [StoredTask], through: Date, completion: @escaping Completion) {
        var tasks = tasks
        enqueue(completion) { buffer in
            for index in tasks.indices {
                tasks[index].sequence = buffer.nextSequence
                buffer.nextSequence += 1
            }
            return .fired(schedule: schedule, tasks: tasks, through: through)
        }
    }

    /// Queues a change; `completion`, if any, runs once it is durable, or with the failure of the
    /// commit it was part of.
    public func record(_ change: StateChange, completion: Completion? = nil) {
        enqueue(completion) { _ in change }
    }

    /// Queues a change that is written again after a failed commit (a full disk, an I/O error)
    /// until it is durable; `completion` runs once it is, or with a failure only if the writer is
    /// closed first. For facts a client may already have been told, such as a task's end.
    public func recordUntilDurable(_ change: StateChange, completion: Completion? = nil) {
        enqueue(completion, untilDurable: true) { _ in change }
    }

    /// The tasks whose end was recorded with ``recordUntilDurable(_:completion:)``, failed to commit,
    /// and waits to be written again: their rows still say they run.
    public var unwrittenEnds: Set<TaskID> {
        buffer.withLock { buffer in
            Set(
                buffer.retained.compactMap { entry in
                    if case .ended(let id, _, _, _, _, _)? = entry.change { id } else { nil }
                })
        }
    }

    /// Queues a change and blocks until it is durable. Not from the writer's own completions.
    public func recordAndWait(_ change: StateChange) throws(StateStoreError) {
        let done = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<Void, StateStoreError>>(.success(()))
        record(change) { result in
            outcome.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        try outcome.withLock { $0 }.get()
    }

    /// Blocks until everything queued so far is committed (or failed).
    public func flush() {
        let done = DispatchSemaphore(value: 0)
        let queued = enqueue({ _ in done.signal() }, nil)
        if queued { done.wait() }
    }

    /// Inserts queued and not yet committed.
    public var pendingInserts: Int { buffer.withLock { $0.inserts } }

    /// Commits so far.
    public var statistics: Statistics { counts.withLock { $0 } }

    /// Writes what is queued, tries what failed to commit again for up to `retrying`, then closes
    /// the store; later changes fail at once. Returns the changes that could not be written (their
    /// completions get the failure).
    @discardableResult
    public func close(retrying patience: Duration = .seconds(10)) -> [StateChange] {
        flush()
        let deadline = ContinuousClock.now + patience
        var unwritten: [Entry] = []
        queue.sync {
            while true {
                let retained = buffer.withLock { $0.retained }
                guard !retained.isEmpty else { break }
                if tryRetained() { continue }
                guard ContinuousClock.now < deadline else {
                    unwritten = buffer.withLock { buffer in
                        defer { buffer.retained = [] }
                        return buffer.retained
                    }
                    break
                }
                usleep(200_000)
            }
        }
        let wasOpen = buffer.withLock { buffer in
            defer { buffer.closed = true }
            return !buffer.closed
        }
        if wasOpen { queue.sync { store.close() } }
        let failure = StateStoreError(.writeFailed, path: store.path, "the state store was closed before this change could be written")
        for entry in unwritten { entry.completion?(.failure(failure)) }
        if !unwritten.isEmpty { afterBatch() }
        return unwritten.compactMap(\.change)
    }

    // MARK: - Group commit

    /// Appends under the lock (so that sequence numbers follow queue order) and starts a drain if
    /// none runs. Returns false, calling `completion` with a failure, once closed.
    @discardableResult
    private func enqueue(
        _ completion: Completion?, untilDurable: Bool = false,
        _ makeChange: ((inout Buffer) -> StateChange)?
    ) -> Bool {
        let (accepted, startDrain) = buffer.withLock { buffer -> (Bool, Bool) in
            guard !buffer.closed else { return (false, false) }
            buffer.entries.append(Entry(change: makeChange?(&buffer), completion: completion, untilDurable: untilDurable))
            defer { buffer.draining = true }
            return (true, !buffer.draining)
        }
        guard accepted else {
            completion?(.failure(StateStoreError(.writeFailed, path: store.path, "the state store is closed")))
            afterBatch()
            return false
        }
        if startDrain { queue.async { self.drain() } }
        return true
    }

    private func drain() {
        while true {
            let (batch, retry) = buffer.withLock { buffer -> ([Entry], Bool) in
                if buffer.entries.isEmpty {
                    buffer.draining = false
                    return ([], false)
                }
                defer { buffer.entries = [] }
                return (buffer.entries, !buffer.retained.isEmpty)
            }
            guard !batch.isEmpty else {
                scheduleRetryIfNeeded()
                return
            }
            // What failed before goes first, in its own transaction: a change that can never be
            // written does not take every later batch down with it.
            if retry { _ = tryRetained() }
            let changes = batch.compactMap(\.change)
            let result: Result<Void, StateStoreError>
            let started = ContinuousClock.now
            do {
                try store.apply(changes)
                result = .success(())
                if let observer = commitObserver.withLock({ $0 }) { observer.call(ContinuousClock.now - started) }
            } catch {
                result = .failure(error)
                onFailure(error, changes.count)
            }
            let inserts = changes.count { if case .insert = $0 { true } else { false } }
            buffer.withLock { buffer in
                buffer.inserts -= inserts
                if case .failure = result { buffer.retained += batch.filter(\.untilDurable) }
            }
            count(result, changes: changes.count)
            for entry in batch where !(entry.untilDurable && result.isFailure) { entry.completion?(result) }
            afterBatch()
        }
    }

    /// One transaction of the retained changes, on the writer's queue. Returns true when they
    /// are durable now (their completions have run).
    private func tryRetained() -> Bool {
        let retained = buffer.withLock { $0.retained }
        guard !retained.isEmpty else { return true }
        let changes = retained.compactMap(\.change)
        do {
            try store.apply(changes)
        } catch {
            onFailure(error, changes.count)
            count(.failure(error), changes: changes.count)
            return false
        }
        buffer.withLock { buffer in
            buffer.retained.removeFirst(retained.count)
            buffer.retryDelay = Self.firstRetryDelay
        }
        count(.success(()), changes: changes.count)
        for entry in retained { entry.completion?(.success(())) }
        afterBatch()
        return true
    }

    /// With changes retained and nothing else queued, tries them again after a backoff.
    private func scheduleRetryIfNeeded() {
        let delay: Duration? = buffer.withLock { buffer in
            guard !buffer.retained.isEmpty, !buffer.retryScheduled, !buffer.closed else { return nil }
            buffer.retryScheduled = true
            defer { buffer.retryDelay = min(buffer.retryDelay * 2, Self.maxRetryDelay) }
            return buffer.retryDelay
        }
        guard let delay else { return }
        let nanoseconds = Int(delay.components.seconds) * 1_000_000_000 + Int(delay.components.attoseconds / 1_000_000_000)
        queue.asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) {
            let run = self.buffer.withLock { buffer -> Bool in
                buffer.retryScheduled = false
                // A drain under way (or the close) tries them itself.
                guard !buffer.draining, !buffer.closed else { return false }
                return true
            }
            guard run else { return }
            if !self.tryRetained() { self.scheduleRetryIfNeeded() }
        }
    }

    private func count(_ result: Result<Void, StateStoreError>, changes: Int) {
        counts.withLock { counts in
            if case .success = result {
                counts.commits += 1
                counts.changes += changes
            } else {
                counts.failedCommits += 1
            }
        }
    }
}

extension Result {
    fileprivate var isFailure: Bool {
        if case .failure = self { true } else { false }
    }
}
