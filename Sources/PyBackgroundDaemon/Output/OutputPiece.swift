/// What a read of a task's output at a position found.
enum OutputPiece: Equatable {
    /// Bytes from the position on.
    case bytes([UInt8])
    /// The position is in the dropped middle: this many bytes from it are not kept.
    case dropped(Int)
    /// Nothing written from the position on (yet).
    case none
}
