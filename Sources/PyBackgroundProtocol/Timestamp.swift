/// A point in time as people type it, RFC 3339 style: `2026-12-01T03:00`, with optional seconds
/// and fraction, a `T` or a space between date and time, and an optional offset (`Z`, `+01:00`,
/// `-0500`). Without an offset it is a wall time whose zone the reader chooses (pybgctl: the
/// user's; the daemon: its own).
///
/// ```swift
/// let at = try Timestamp.parse("2026-12-01T03:00+01:00")
/// at.epochSeconds(offsetIfLocal: 0)     // 1796090400
/// ```
public struct Timestamp: Hashable, Sendable, CustomStringConvertible {
    public var year: Int
    public var month: Int
    public var day: Int
    public var hour: Int
    public var minute: Int
    public var second: Int
    public var nanosecond: Int
    /// Seconds east of UTC, or nil for a wall time without a zone.
    public var offsetSeconds: Int?

    public init(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int = 0, nanosecond: Int = 0, offsetSeconds: Int? = nil) {
        (self.year, self.month, self.day, self.hour, self.minute, self.second) = (year, month, day, hour, minute, second)
        self.nanosecond = nanosecond
        self.offsetSeconds = offsetSeconds
    }

    /// Seconds since 1970-01-01T00:00:00Z; a wall time without an offset is read with `offsetIfLocal`.
    public func epochSeconds(offsetIfLocal: Int) -> Double {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let days = era * 146_097 + yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear - 719_468
        let wall = Double(days * 86_400 + hour * 3600 + minute * 60 + second) + Double(nanosecond) / 1e9
        return wall - Double(offsetSeconds ?? offsetIfLocal)
    }

    /// RFC 3339, with the offset if it has one (`2026-12-01T03:00:00+01:00`).
    public var description: String {
        func pad(_ value: Int, _ width: Int = 2) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        var text = "\(pad(year, 4))-\(pad(month))-\(pad(day))T\(pad(hour)):\(pad(minute)):\(pad(second))"
        if nanosecond > 0 {
            var fraction = pad(nanosecond, 9)
            while fraction.hasSuffix("0") { fraction.removeLast() }
            text += "." + fraction
        }
        if let offsetSeconds {
            if offsetSeconds == 0 { return text + "Z" }
            let magnitude = abs(offsetSeconds)
            text += (offsetSeconds < 0 ? "-" : "+") + "\(pad(magnitude / 3600)):\(pad(magnitude % 3600 / 60))"
        }
        return text
    }

    /// Parses `text`; throws `bad-request` naming what was wrong and the accepted form.
    public static func parse(_ text: Substring) throws(ProtocolError) -> Timestamp {
        func refuse(_ why: String) -> ProtocolError {
            ProtocolError(
                .badRequest,
                "\"\(text)\" is not a time: \(why); write YYYY-MM-DDTHH:MM[:SS[.fff]][Z|±HH:MM], e.g. 2026-12-01T03:00 or 2026-12-01T03:00:00+01:00")
        }
        let bytes = Array(text.utf8)
        var index = 0
        func number(_ width: Int, _ what: String) throws(ProtocolError) -> Int {
            guard index + width <= bytes.count else { throw refuse("the \(what) is missing") }
            var value = 0
            for byte in bytes[index..<(index + width)] {
                guard byte >= 48 && byte <= 57 else { throw refuse("the \(what) must be \(width) digits") }
                value = value * 10 + Int(byte - 48)
            }
            index += width
            return value
        }
        func expect(_ characters: String, _ what: String) throws(ProtocolError) {
            guard index < bytes.count, characters.utf8.contains(bytes[index]) else { throw refuse("expected \(what)") }
            index += 1
        }
        let year = try number(4, "year")
        try expect("-", "- after the year")
        let month = try number(2, "month")
        try expect("-", "- after the month")
        let day = try number(2, "day")
        try expect("Tt ", "T between the date and the time")
        let hour = try number(2, "hour")
        try expect(":", ": after the hour")
        let minute = try number(2, "minute")
        var second = 0
        var nanosecond = 0
        if index < bytes.count && bytes[index] == UInt8(ascii: ":") {
            index += 1
            second = try number(2, "second")
            if index < bytes.count && bytes[index] == UInt8(ascii: ".") {
                index += 1
                var digits = 0
                while index < bytes.count, bytes[index] >= 48 && bytes[index] <= 57 {
                    if digits < 9 { nanosecond = nanosecond * 10 + Int(bytes[index] - 48) }
                    digits += 1
                    index += 1
                }
                guard digits > 0 else { throw refuse("a fraction of a second needs digits") }
                for _ in min(digits, 9)..<9 { nanosecond *= 10 }
            }
        }
        var offset: Int?
        if index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "Z"), UInt8(ascii: "z"):
                offset = 0
                index += 1
            case UInt8(ascii: "+"), UInt8(ascii: "-"):
                let sign = bytes[index] == UInt8(ascii: "-") ? -1 : 1
                index += 1
                let hours = try number(2, "offset's hours")
                if index < bytes.count && bytes[index] == UInt8(ascii: ":") { index += 1 }
                let minutes = try number(2, "offset's minutes")
                guard hours <= 23, minutes <= 59 else { throw refuse("the offset is out of range") }
                offset = sign * (hours * 3600 + minutes * 60)
            default:
                throw refuse("unexpected \"\(Character(Unicode.Scalar(bytes[index])))\" after the time")
            }
        }
        guard index == bytes.count else { throw refuse("something follows the offset") }
        guard (1...12).contains(month) else { throw refuse("month \(month) does not exist") }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        guard (1...days).contains(day) else { throw refuse("day \(day) does not exist in that month") }
        guard hour <= 23, minute <= 59, second <= 59 else { throw refuse("the time of day is out of range") }
        return Timestamp(year: year, month: month, day: day, hour: hour, minute: minute, second: second, nanosecond: nanosecond, offsetSeconds: offset)
    }
}
