import PyBackgroundProtocol

/// A task's output as a store several hosts share keeps it (``TaskPersistence/sharedOutput(_:from:completion:)``):
/// the pieces of its latest run from where a reader is, in order.
struct SharedOutput: Sendable {
    /// One piece: `bytes` written at `position` of `stream` (a position counts every byte the
    /// task wrote, so a gap before a piece is a middle its host did not keep).
    struct Piece: Sendable, Equatable {
        var stream: StandardStream
        var position: Int
        var bytes: [UInt8]
    }

    /// Which run (its fence; a later run's output replaces an earlier one's); nil: none is kept.
    var run: Int64?
    var pieces: [Piece]

    /// What a reader at `position` of `stream` has still to read, in order: a gap before a piece
    /// is a middle not kept (`.dropped`), and what a piece overlaps of what was read is passed over.
    func unread(_ stream: StandardStream, from position: Int) -> [OutputPiece] {
        var position = position
        var unread: [OutputPiece] = []
        for piece in pieces where piece.stream == stream {
            let end = piece.position + piece.bytes.count
            guard end > position else { continue }
            if piece.position > position { unread.append(.dropped(piece.position - position)) }
            unread.append(.bytes(Array(piece.bytes[max(0, position - piece.position)...])))
            position = end
        }
        return unread
    }
}
