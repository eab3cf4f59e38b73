import PyBackground
import PyBackgroundProtocol

/// Where the segments of tasks' output (``OutputLayout``) are kept: one conforming type per kind
/// of state store, chosen once at start with it (files beside the SQLite file, or memory).
/// Callers serialize the calls for one task and stream (``TaskOutputs`` holds a lock per task).
protocol OutputStorage: Sendable {
    /// Where the output is kept, for the log.
    var location: String { get }
    /// Appends to a segment, creating it.
    func append(_ bytes: UnsafeRawBufferPointer, to segment: OutputSegment) throws(OutputStorageError)
    /// Up to `count` bytes of a segment from `offset` (fewer at its end).
    func read(_ segment: OutputSegment, offset: Int, count: Int) throws(OutputStorageError) -> [UInt8]
    /// Drops a segment no longer kept.
    func drop(_ segment: OutputSegment)
    /// A task's writing is over for now: release what writing holds (open files).
    func endWriting(_ id: TaskID)
    /// Removes everything of a task.
    func remove(_ id: TaskID)
    /// What an earlier life left: per task and stream, its last segment and that segment's size.
    func recover() -> [TaskID: [StandardStream: (segment: Int, size: Int)]]
}

/// One segment of one stream of one task.
struct OutputSegment: Hashable, Sendable {
    var id: TaskID
    var stream: StandardStream
    var index: Int
}

/// An output write or read the file system refused.
struct OutputStorageError: Error, CustomStringConvertible {
    let description: String
}
