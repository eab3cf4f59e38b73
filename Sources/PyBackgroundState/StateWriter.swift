import Dispatch
import PyBackground
import Synchronization

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

    private struct Entry {
        /// nil: a flush marker, nothing to write.
        var change: StateChange?
        var completion: Completion?
    }

    private struct Buffer {
        var entries: [Entry] = []
        var draining = false
        var closed = false
        var nextSequence: Int64
        /// Inserts queued and not yet committed: tasks accepted but not yet acknowledged.
        var inserts = 0
    }

    private let buffer: Mutex<Buffer>
    private let counts = Mutex(Statistics())

    /// - Parameters:
    ///   - nextSequence: the sequence number the next inserted task gets (one past the stored maximum).
    ///   - onFailure: told of each failed transaction, with how many changes it held.
    public init(store: StateStore, nextSequence: Int64,
                onFailure: @escaping @Sendable (StateStoreError, _ changes: Int) -> Void = { _, _ in }) {
        self.store = store
        self.buffer = Mutex(Buffer(nextSequence: nextSequence))
        self.onFailure = onFailure
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

    /// Queues a change; `completion`, if any, runs once it is durable.
    public func record(_ change: StateChange, completion: Completion? = nil) {
        enqueue(completion) { _ in change }
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

    /// Writes what is queued, then closes the store. Later changes fail at once.
    public func close() {
        flush()
        let wasOpen = buffer.withLock { buffer in
            defer { buffer.closed = true }
            return !buffer.closed
        }
        if wasOpen { queue.sync { store.close() } }
    }

    // MARK: - Group commit

    /// Appends under the lock (so that sequence numbers follow queue order) and starts a drain if
    /// none runs. Returns false, calling `completion` with a failure, once closed.
    @discardableResult
    private func enqueue(_ completion: Completion?, _ makeChange: ((inout Buffer) -> StateChange)?) -> Bool {
        let (accepted, startDrain) = buffer.withLock { buffer -> (Bool, Bool) in
            guard !buffer.closed else { return (false, false) }
            buffer.entries.append(Entry(change: makeChange?(&buffer), completion: completion))
            defer { buffer.draining = true }
            return (true, !buffer.draining)
        }
        guard accepted else {
            completion?(.failure(StateStoreError(.writeFailed, path: store.path, "the state store is closed")))
            return false
        }
        if startDrain { queue.async { self.drain() } }
        return true
    }

    private func drain() {
        while true {
            let batch = buffer.withLock { buffer -> [Entry] in
                if buffer.entries.isEmpty {
                    buffer.draining = false
                    return []
                }
                defer { buffer.entries = [] }
                return buffer.entries
            }
            guard !batch.isEmpty else { return }
            let changes = batch.compactMap(\.change)
            let result: Result<Void, StateStoreError>
            do {
                try store.apply(changes)
                result = .success(())
            } catch {
                result = .failure(error)
                onFailure(error, changes.count)
            }
            let inserts = changes.count { if case .insert = $0 { true } else { false } }
            buffer.withLock { $0.inserts -= inserts }
            counts.withLock { counts in
                if case .success = result {
                    counts.commits += 1
                    counts.changes += changes.count
                } else {
                    counts.failedCommits += 1
                }
            }
            for entry in batch { entry.completion?(result) }
        }
    }
}
