import PyBackground
import PyBackgroundProtocol
import Synchronization

/// Tasks' output in memory, for `state.store: memory`: gone when pybgd stops, as the tables are.
final class MemoryOutputStorage: OutputStorage {
    private struct Key: Hashable {
        var stream: StandardStream
        var index: Int
    }

    private let tasks = Mutex<[TaskID: [Key: [UInt8]]]>([:])

    var location: String { "memory" }

    func append(_ bytes: UnsafeRawBufferPointer, to segment: OutputSegment) throws(OutputStorageError) {
        tasks.withLock { $0[segment.id, default: [:]][Key(stream: segment.stream, index: segment.index), default: []].append(contentsOf: bytes) }
    }

    func read(_ segment: OutputSegment, offset: Int, count: Int) throws(OutputStorageError) -> [UInt8] {
        tasks.withLock { tasks in
            guard let bytes = tasks[segment.id]?[Key(stream: segment.stream, index: segment.index)], offset < bytes.count else { return [] }
            return Array(bytes[offset..<min(bytes.count, offset + count)])
        }
    }

    func drop(_ segment: OutputSegment) {
        _ = tasks.withLock { $0[segment.id]?.removeValue(forKey: Key(stream: segment.stream, index: segment.index)) }
    }

    func endWriting(_ id: TaskID) {}

    func remove(_ id: TaskID) {
        _ = tasks.withLock { $0.removeValue(forKey: id) }
    }

    func recover() -> [TaskID: [StandardStream: (segment: Int, size: Int)]] { [:] }
}
