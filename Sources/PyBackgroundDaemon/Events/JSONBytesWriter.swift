import PyBackground
import PyBackgroundProtocol

/// Writes JSON pieces into memory the caller sized (``TaskEvent/lineCapacity``): a cursor over
/// raw bytes, with no bounds check beyond a debug assertion. Three events per task go through it
/// on the publishing threads; through ByteBuffer's per-call checks and `Double.description` the
/// encoding was a fifth of the watched daemon's time (BENCHMARKS.md, issue 18).
struct JSONBytesWriter {
    private let base: UnsafeMutableRawPointer
    private let capacity: Int
    /// Bytes written so far.
    private(set) var count = 0

    init(_ bytes: UnsafeMutableRawBufferPointer) {
        base = bytes.baseAddress!
        capacity = bytes.count
    }

    mutating func write(_ text: StaticString) {
        assert(count + text.utf8CodeUnitCount <= capacity)
        (base + count).copyMemory(from: text.utf8Start, byteCount: text.utf8CodeUnitCount)
        count += text.utf8CodeUnitCount
    }

    mutating func write(byte: UInt8) {
        assert(count < capacity)
        base.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    /// A string's UTF-8 as it is (the caller knows it needs no escaping).
    mutating func write(raw text: String) {
        var text = text
        text.withUTF8 { utf8 in
            assert(count + utf8.count <= capacity)
            if let source = utf8.baseAddress { (base + count).copyMemory(from: source, byteCount: utf8.count) }
            count += utf8.count
        }
    }

    /// The most bytes ``write(string:)`` writes for `text`.
    static func stringCapacity(_ text: String) -> Int { 2 + 6 * text.utf8.count }

    /// A JSON string, as JSONEncoder writes it: quoted, escaped only when it must be. One pass
    /// copies and checks; a string that needs escaping (no task or queue name does) is written
    /// again by the encoder.
    mutating func write(string text: String) {
        let start = count
        write(byte: UInt8(ascii: "\""))
        var text = text
        let plain = text.withUTF8 { utf8 -> Bool in
            assert(count + utf8.count < capacity)
            var index = count
            for byte in utf8 {
                guard byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") else { return false }
                base.storeBytes(of: byte, toByteOffset: index, as: UInt8.self)
                index += 1
            }
            count = index
            return true
        }
        if plain {
            write(byte: UInt8(ascii: "\""))
        } else {
            count = start
            write(raw: ProtocolJSON.encode(text))
        }
    }

    mutating func write(integer value: Int64) {
        if value < 0 { write(byte: UInt8(ascii: "-")) }
        write(digitsOf: value.magnitude, minimumDigits: 1)
    }

    /// `value` rounded to `decimals` places (at most 9), without trailing zeros, and without a
    /// point when it is whole: the same number JSONEncoder writes to within half a unit of the
    /// last place (a time in seconds to the microsecond, a duration to the nanosecond).
    /// Non-finite values, which JSON cannot carry, are written as 0.
    mutating func write(number value: Double, decimals: Int) {
        precondition((0...9).contains(decimals))
        guard value.isFinite else { return write(byte: UInt8(ascii: "0")) }
        var scale: UInt64 = 1
        for _ in 0..<decimals { scale *= 10 }
        let scaled = (value.magnitude * Double(scale)).rounded()
        guard scaled < 9.2e18 else {
            // Past 2^63 units, fewer places than asked are exact anyway: a whole number as an
            // integer, any other as Swift spells it.
            if value == value.rounded() && value.magnitude < 9.2e18 { return write(integer: Int64(value)) }
            return write(raw: value.description)
        }
        let units = UInt64(scaled)
        if value < 0 && units != 0 { write(byte: UInt8(ascii: "-")) }
        write(digitsOf: units / scale, minimumDigits: 1)
        var fraction = units % scale
        guard fraction != 0 else { return }
        var places = decimals
        while fraction % 10 == 0 {
            fraction /= 10
            places -= 1
        }
        write(byte: UInt8(ascii: "."))
        write(digitsOf: fraction, minimumDigits: places)
    }

    private mutating func write(digitsOf value: UInt64, minimumDigits: Int) {
        var digits = 1
        var power: UInt64 = 10
        while digits < 20 && value >= power {
            digits += 1
            if digits < 20 { power *= 10 }
        }
        digits = max(digits, minimumDigits)
        assert(count + digits <= capacity)
        // Two digits per division, from a table of "00" to "99", from the last.
        let pairs = Self.digitPairs.utf8Start
        var rest = value
        var index = count + digits
        while rest >= 100 {
            let pair = Int(rest % 100) * 2
            rest /= 100
            index -= 2
            base.storeBytes(of: pairs[pair], toByteOffset: index, as: UInt8.self)
            base.storeBytes(of: pairs[pair + 1], toByteOffset: index + 1, as: UInt8.self)
        }
        if rest >= 10 {
            index -= 2
            base.storeBytes(of: pairs[Int(rest) * 2], toByteOffset: index, as: UInt8.self)
            base.storeBytes(of: pairs[Int(rest) * 2 + 1], toByteOffset: index + 1, as: UInt8.self)
        } else {
            index -= 1
            base.storeBytes(of: UInt8(ascii: "0") + UInt8(rest), toByteOffset: index, as: UInt8.self)
        }
        // Leading zeros up to `minimumDigits`.
        while index > count {
            index -= 1
            base.storeBytes(of: UInt8(ascii: "0"), toByteOffset: index, as: UInt8.self)
        }
        count += digits
    }

    private static let digitPairs: StaticString = """
        00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748\
        4950515253545556575859606162636465666768697071727374757677787980818283848586878889909192939495969798\
        99
        """

    private static let hexPairs: StaticString = """
        000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f\
        303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f\
        606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f\
        909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf\
        c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeef\
        f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff
        """

    /// A task id's 32 hex digits, as `TaskID.description` spells them: a byte at a time.
    mutating func write(id: TaskID) {
        assert(count + 32 <= capacity)
        let pairs = Self.hexPairs.utf8Start
        for (offset, word) in [(0, id.high), (16, id.low)] {
            for byte in 0..<8 {
                let value = Int((word >> UInt64(56 - byte * 8)) & 0xFF)
                base.storeBytes(of: pairs[value * 2], toByteOffset: count + offset + byte * 2, as: UInt8.self)
                base.storeBytes(of: pairs[value * 2 + 1], toByteOffset: count + offset + byte * 2 + 1, as: UInt8.self)
            }
        }
        count += 32
    }
}
