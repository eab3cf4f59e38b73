import PyBackgroundProtocol

/// A task's output as `OUT` pieces bring it: the bytes, with a line of its own where the daemon
/// dropped the middle of an output longer than its limit.
struct OutputText {
    private(set) var bytes: [UInt8] = []

    mutating func add(_ piece: OutputChunkPayload) {
        if let dropped = piece.dropped {
            bytes.append(contentsOf: OutputChunkPayload.droppedLine(dropped, endsLine: bytes.last.map { $0 == UInt8(ascii: "\n") } ?? true))
        } else {
            bytes.append(contentsOf: piece.bytes)
        }
    }

    /// The last `count` lines (a last line without a line feed counts).
    func lastLines(_ count: Int) -> [UInt8] {
        guard count > 0 else { return [] }
        var end = bytes.count
        if end > 0 && bytes[end - 1] == UInt8(ascii: "\n") { end -= 1 }
        var seen = 0
        var index = end
        while index > 0 {
            if bytes[index - 1] == UInt8(ascii: "\n") {
                seen += 1
                if seen == count { break }
            }
            index -= 1
        }
        return Array(bytes[index...])
    }
}
