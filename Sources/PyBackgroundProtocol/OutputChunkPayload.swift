#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `OUT` → a piece of a task's output, in the order it was written to its stream: `data` when it
/// is UTF-8 text, `base64` when it is not, or `dropped`: the count of bytes kept out of the middle
/// of an output longer than the daemon's limit (`output.max_bytes`).
///
/// A piece never ends inside a UTF-8 character while more may follow, so text stays text.
public struct OutputChunkPayload: Codable, Hashable, Sendable {
    public var id: String
    public var stream: StandardStream
    public var data: String?
    public var base64: String?
    public var dropped: Int?

    public init(id: String, stream: StandardStream, data: String? = nil, base64: String? = nil, dropped: Int? = nil) {
        self.id = id
        self.stream = stream
        self.data = data
        self.base64 = base64
        self.dropped = dropped
    }

    /// A piece of output: text when the bytes are UTF-8, base64 otherwise.
    public init(id: String, stream: StandardStream, bytes: some Collection<UInt8>) {
        self.init(id: id, stream: stream)
        if let text = String(validating: bytes, as: UTF8.self) {
            data = text
        } else {
            base64 = Data(bytes).base64EncodedString()
        }
    }

    /// The line that stands for a dropped middle of `count` bytes where output is shown whole
    /// (`pybgctl log` and `follow`, the dashboard), with a line feed first unless the output
    /// before it `endsLine`.
    public static func droppedLine(_ count: Int, endsLine: Bool) -> [UInt8] {
        Array(((endsLine ? "" : "\n") + "[pybgd: \(count) bytes of the middle not kept (output.max_bytes)]\n").utf8)
    }

    /// The bytes of the piece as the task wrote them (empty for a `dropped` piece).
    public var bytes: [UInt8] {
        if let data { return Array(data.utf8) }
        if let base64, let decoded = Data(base64Encoded: base64) { return Array(decoded) }
        return []
    }
}
