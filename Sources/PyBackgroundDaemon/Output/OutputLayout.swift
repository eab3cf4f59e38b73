/// Where the bytes of one output stream are kept when it may grow past its limit: the first half
/// of the limit is kept whole (the head, segment 0), and after it, segments of a quarter of the
/// limit of which only the last two are kept (the tail). So a stream never keeps more than its
/// limit, always keeps its beginning and at least its last quarter-limit bytes, and what is
/// dropped is one contiguous middle, counted.
///
/// A position is a byte's offset in the stream as written: segment `k ≥ 1` holds positions
/// `head + (k-1)·segment ..< head + k·segment`. Nothing here does I/O.
struct OutputLayout: Sendable, Hashable {
    /// Kept whole from the start: half the limit.
    let headBytes: Int
    /// The size of a tail segment: a quarter of the limit.
    let segmentBytes: Int

    /// - Parameter maxBytes: the most bytes a stream keeps (at least 4).
    init(maxBytes: Int) {
        precondition(maxBytes >= 4, "an output limit below 4 bytes cannot hold a head and a tail")
        headBytes = maxBytes / 2
        segmentBytes = maxBytes / 4
    }

    /// The position of a segment's first byte.
    func start(of segment: Int) -> Int {
        segment == 0 ? 0 : headBytes + (segment - 1) * segmentBytes
    }

    /// How many bytes a segment holds when full.
    func capacity(of segment: Int) -> Int {
        segment == 0 ? headBytes : segmentBytes
    }

    /// The segment a position falls in.
    func segment(containing position: Int) -> Int {
        position < headBytes ? 0 : 1 + (position - headBytes) / segmentBytes
    }

    /// The first tail segment still kept when `total` bytes were written: the one before the last
    /// (or segment 1).
    func firstKeptTail(total: Int) -> Int {
        total <= headBytes ? 1 : max(1, segment(containing: total - 1) - 1)
    }

    /// The segment that may be dropped once writing reaches the start of `segment`: the one two
    /// before it, when that is a tail segment.
    func segmentDropped(whenStarting segment: Int) -> Int? {
        segment >= 3 ? segment - 2 : nil
    }

    /// Bytes of the middle no longer kept after `total` bytes were written.
    func dropped(total: Int) -> Int {
        max(0, start(of: firstKeptTail(total: total)) - headBytes)
    }

    /// How many bytes are kept after `total` were written.
    func kept(total: Int) -> Int { total - dropped(total: total) }

    /// The total written, from the last segment on disk and its size (recovery).
    func total(lastSegment: Int, size: Int) -> Int { start(of: lastSegment) + size }
}
