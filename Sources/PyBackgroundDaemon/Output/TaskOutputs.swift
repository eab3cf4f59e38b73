import Logging
import PyBackground
import PyBackgroundProtocol
import Synchronization

/// Every task's stdout and stderr, whole up to `output.max_bytes` per stream (beyond it the middle
/// is dropped and counted, ``OutputLayout``), kept by an ``OutputStorage`` and told to followers
/// as it is written.
///
/// Command tasks write their processes' output here; built-in and library tasks write through
/// ``TaskContext/write(_:to:)``. Output goes with its task: `CLEAN`, `REMOVE` and retention
/// remove it, and recovery keeps that of the tasks it brings back.
final class TaskOutputs: Sendable {
    /// The most bytes kept per task and stream; 0 keeps none.
    let maxBytes: Int
    private let layout: OutputLayout?
    private let storage: any OutputStorage
    private let logger: Logger
    private let entries = Mutex<[TaskID: Entry]>([:])

    /// Called when a task's output grew (from the writing thread): followers pump from here.
    typealias Watcher = @Sendable () -> Void

    private final class Entry: Sendable {
        let state = Mutex(State())

        struct State {
            var stdout = 0
            var stderr = 0
            /// A write failed: no more is kept of this task (logged once).
            var failed = false
            var watchers: [Int: Watcher] = [:]

            subscript(stream: StandardStream) -> Int {
                get { stream == .stdout ? stdout : stderr }
                set { if stream == .stdout { stdout = newValue } else { stderr = newValue } }
            }
        }
    }

    private let nextToken = Atomic<Int>(0)

    init(storage: any OutputStorage, maxBytes: Int, logger: Logger) {
        self.storage = storage
        self.maxBytes = maxBytes
        self.layout = maxBytes >= 4 ? OutputLayout(maxBytes: maxBytes) : nil
        self.logger = logger
    }

    /// Where the output is kept.
    var location: String { storage.location }

    // MARK: - Writing

    /// Appends to a task's stream, dropping the middle past the limit; tells its followers.
    func append(_ bytes: some Collection<UInt8>, id: TaskID, stream: StandardStream) {
        guard let layout, !bytes.isEmpty else { return }
        let entry = self.entry(id, creating: true)!
        var failure: OutputStorageError?
        let watchers: [Watcher] = entry.state.withLock { state in
            guard !state.failed else { return [] }
            var total = state[stream]
            var pending = Array(bytes)[...]
            while !pending.isEmpty {
                let segment = layout.segment(containing: total)
                if total == layout.start(of: segment), let old = layout.segmentDropped(whenStarting: segment) {
                    storage.drop(OutputSegment(id: id, stream: stream, index: old))
                }
                let count = min(layout.start(of: segment) + layout.capacity(of: segment) - total, pending.count)
                let written: Result<Void, OutputStorageError> = pending.prefix(count).withUnsafeBytes { buffer in
                    Result { () throws(OutputStorageError) in
                        try storage.append(buffer, to: OutputSegment(id: id, stream: stream, index: segment))
                    }
                }
                if case .failure(let error) = written {
                    failure = error
                    state.failed = true
                    break
                }
                pending = pending.dropFirst(count)
                total += count
            }
            state[stream] = total
            return Array(state.watchers.values)
        }
        if let failure {
            logger.warning("a task's output cannot be kept; the rest of it is dropped", metadata: ["id": "\(id)", "error": "\(failure)"])
        }
        for watcher in watchers { watcher() }
    }

    /// The task's writing is over for now (its process ended): open files are closed.
    func endWriting(_ id: TaskID) {
        storage.endWriting(id)
    }

    // MARK: - Reading

    /// How many bytes were written to a stream (kept or not).
    func total(_ id: TaskID, _ stream: StandardStream) -> Int {
        entry(id, creating: false)?.state.withLock { $0[stream] } ?? 0
    }

    /// The middle of a stream no longer kept (positions `head ..< tail`); nil: all is kept.
    func droppedRange(_ id: TaskID, _ stream: StandardStream) -> Range<Int>? {
        guard let layout else { return nil }
        let total = total(id, stream)
        let dropped = layout.dropped(total: total)
        return dropped > 0 ? layout.headBytes..<(layout.headBytes + dropped) : nil
    }

    /// Up to `count` bytes of a stream from `position` (a position as written, dropped bytes counted).
    func read(_ id: TaskID, _ stream: StandardStream, from position: Int, count: Int) -> OutputPiece {
        guard let layout, let entry = entry(id, creating: false) else { return .none }
        return entry.state.withLock { state in
            let total = state[stream]
            guard position < total else { return .none }
            let segment = layout.segment(containing: position)
            let firstKept = layout.firstKeptTail(total: total)
            if segment >= 1 && segment < firstKept { return .dropped(layout.start(of: firstKept) - position) }
            let end = min(total, layout.start(of: segment) + layout.capacity(of: segment), position + count)
            do {
                let bytes = try storage.read(
                    OutputSegment(id: id, stream: stream, index: segment), offset: position - layout.start(of: segment), count: end - position)
                return bytes.isEmpty ? .none : .bytes(bytes)
            } catch {
                logger.warning("a task's output cannot be read", metadata: ["id": "\(id)", "error": "\(error)"])
                return .none
            }
        }
    }

    // MARK: - Followers

    /// Calls `watcher` whenever the task's output grows, until ``unwatch(_:token:)``.
    func watch(_ id: TaskID, _ watcher: @escaping Watcher) -> Int {
        let token = nextToken.add(1, ordering: .relaxed).newValue
        entry(id, creating: true)!.state.withLock { $0.watchers[token] = watcher }
        return token
    }

    func unwatch(_ id: TaskID, token: Int) {
        entries.withLock { entries in
            guard let entry = entries[id] else { return }
            let unused = entry.state.withLock { state in
                state.watchers.removeValue(forKey: token)
                return state.watchers.isEmpty && state.stdout == 0 && state.stderr == 0
            }
            if unused { entries.removeValue(forKey: id) }
        }
    }

    // MARK: - Removal and recovery

    /// Removes the output of tasks that left the tables.
    func remove(_ ids: some Sequence<TaskID>) {
        for id in ids {
            let entry = entries.withLock { $0.removeValue(forKey: id) }
            if entry != nil { storage.remove(id) }
        }
    }

    /// Removes the output of every task `isKept` refuses: those retention by count dropped from
    /// the tables (the scheduler drops them as tasks end, without telling anyone).
    func removeAll(except isKept: (TaskID) -> Bool) {
        let gone = entries.withLock { entries in
            entries.filter { id, entry in !isKept(id) && entry.state.withLock { $0.watchers.isEmpty } }.map(\.key)
        }
        remove(gone)
    }

    /// Takes back what an earlier life kept (before any task runs: a task run again appends to
    /// it). Returns how many tasks' output was found.
    @discardableResult
    func recover() -> Int {
        guard let layout else { return 0 }
        var recovered = 0
        for (id, streams) in storage.recover() {
            let entry = self.entry(id, creating: true)!
            entry.state.withLock { state in
                for (stream, last) in streams { state[stream] = layout.total(lastSegment: last.segment, size: last.size) }
            }
            recovered += 1
        }
        return recovered
    }

    private func entry(_ id: TaskID, creating: Bool) -> Entry? {
        entries.withLock { entries in
            if let entry = entries[id] { return entry }
            guard creating else { return nil }
            let entry = Entry()
            entries[id] = entry
            return entry
        }
    }
}
