/// The identifier of a started task: a random (version 4) UUID written as 32 lowercase hex digits,
/// like Python's `uuid.uuid4().hex`.
///
/// ```swift
/// let id = try scheduler.start(work)
/// print(id)                        // "3f2b9c0e5d8a4e7b9a1c2d3e4f5a6b7c"
/// TaskID("3f2b9c0e5d8a4e7b9a1c2d3e4f5a6b7c") == id   // true
/// ```
public struct TaskID: Hashable, Sendable, Comparable, CustomStringConvertible, LosslessStringConvertible, Codable {
    /// The 128 bits, most significant half first.
    public let high: UInt64
    /// The least significant 64 bits.
    public let low: UInt64

    /// An id from its two halves.
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// A new random identifier, with the version (4) and variant (RFC 4122) bits set as uuid4 does.
    public static func random() -> TaskID {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }

    /// A new random identifier drawn from `generator`.
    public static func random<G: RandomNumberGenerator>(using generator: inout G) -> TaskID {
        let high = (generator.next() & ~0xF000) | 0x4000
        let low = (generator.next() & ~(0b11 << 62)) | (0b10 << 62)
        return TaskID(high: high, low: low)
    }

    /// Parses 32 hex digits (either case). Returns nil for anything else.
    public init?(_ description: String) {
        let utf8 = description.utf8
        guard utf8.count == 32 else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (index, byte) in utf8.enumerated() {
            guard let nibble = TaskID.nibble(byte) else { return nil }
            if index < 16 { high = high << 4 | nibble } else { low = low << 4 | nibble }
        }
        self.init(high: high, low: low)
    }

    public var description: String {
        String(unsafeUninitializedCapacity: TaskID.hexLength) { buffer in
            writeHex(into: buffer, at: 0)
            return TaskID.hexLength
        }
    }

    /// The length of ``description``.
    package static let hexLength = 32

    /// Writes ``description``'s 32 digits into `buffer` from `offset`: for a text of many ids
    /// made in one allocation, not one string per id.
    package func writeHex(into buffer: UnsafeMutableBufferPointer<UInt8>, at offset: Int) {
        for index in 0..<TaskID.hexLength {
            let word = index < 16 ? high : low
            let shift = UInt64(60 - (index % 16) * 4)
            buffer[offset + index] = TaskID.hexDigits[Int((word >> shift) & 0xF)]
        }
    }

    /// `ids`' descriptions joined by commas, made in one allocation.
    package static func commaSeparated(_ ids: [TaskID]) -> String {
        guard !ids.isEmpty else { return "" }
        let length = ids.count * (hexLength + 1) - 1
        return String(unsafeUninitializedCapacity: length) { buffer in
            var offset = 0
            for id in ids {
                if offset > 0 {
                    buffer[offset] = UInt8(ascii: ",")
                    offset += 1
                }
                id.writeHex(into: buffer, at: offset)
                offset += hexLength
            }
            return length
        }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(high)
        hasher.combine(low)
    }

    /// The hash tables' fast path, skipping SipHash: ids come from the system's random numbers,
    /// not from callers, so their low word is already uniformly distributed and no client can make
    /// them collide. (A tenth of `start` went into hashing before this.)
    public func _rawHashValue(seed: Int) -> Int {
        Int(truncatingIfNeeded: low ^ UInt64(truncatingIfNeeded: seed))
    }

    public static func < (lhs: TaskID, rhs: TaskID) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = TaskID(text) else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath,
                    debugDescription: "expected a task id of 32 hex digits, got \"\(text)\""))
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    private static func nibble(_ byte: UInt8) -> UInt64? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt64(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt64(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt64(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }
}
