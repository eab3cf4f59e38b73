/// A length of time as people type it: one or more `<number><unit>` with units `ms`, `s`, `m`,
/// `h`, `d` (`10s`, `5m`, `1h30m`, `0.5s`, `250ms`), from 1 ms to 3,650 days.
///
/// ```swift
/// try TimeSpan.parse("1h30m")        // .seconds(5400)
/// TimeSpan.format(.seconds(5400))    // "1h30m"
/// ```
public enum TimeSpan {
    /// The longest span accepted: ten years of days.
    public static let maximum: Duration = .seconds(3650 * 86_400)

    private static let units: [(name: String, nanoseconds: Int64)] = [
        ("ms", 1_000_000), ("s", 1_000_000_000), ("m", 60_000_000_000), ("h", 3_600_000_000_000), ("d", 86_400_000_000_000),
    ]

    /// Parses `text`; throws `bad-request` naming what was wrong and what is accepted.
    public static func parse(_ text: Substring) throws(ProtocolError) -> Duration {
        func refuse(_ why: String) -> ProtocolError {
            ProtocolError(.badRequest, "\"\(text)\" is not a length of time: \(why); write e.g. 10s, 5m, 1h30m, 2d, 250ms (units ms s m h d)")
        }
        var rest = text[...]
        var total: Int64 = 0  // nanoseconds, exact: a Double would lose them past 104 days
        let limit: Int64 = 3650 * 86_400 * 1_000_000_000
        guard !rest.isEmpty else { throw refuse("it is empty") }
        while !rest.isEmpty {
            let whole = rest.prefix(while: { $0.isASCII && $0.isNumber })
            rest = rest.dropFirst(whole.count)
            var fraction: Substring = ""
            if rest.first == "." {
                fraction = rest.dropFirst().prefix(while: { $0.isASCII && $0.isNumber })
                rest = rest.dropFirst(1 + fraction.count)
            }
            guard !whole.isEmpty || !fraction.isEmpty, whole.count <= 12 else { throw refuse("a number must come before each unit") }
            let unit = rest.prefix(while: { $0.isASCII && $0.isLetter })
            guard let nanoseconds = units.first(where: { $0.name == unit })?.nanoseconds else {
                throw refuse(
                    unit.isEmpty
                        ? "\(text[..<rest.startIndex].suffix(whole.count + (fraction.isEmpty ? 0 : fraction.count + 1))) has no unit"
                        : "\"\(unit)\" is not a unit")
            }
            rest = rest.dropFirst(unit.count)
            let (product, overflow) = (Int64(whole) ?? 0).multipliedReportingOverflow(by: nanoseconds)
            guard !overflow, product <= limit else { throw refuse("it is longer than 3650d") }
            let fractional = fraction.isEmpty ? 0 : Int64((Double("0." + fraction)! * Double(nanoseconds)).rounded())
            total += product + fractional
            guard total <= limit else { throw refuse("it is longer than 3650d") }
        }
        guard total >= 1_000_000 else { throw refuse("it is shorter than 1ms") }
        return .nanoseconds(total)
    }

    /// The span in the largest units that add up to it exactly, to the millisecond (`1h30m`).
    public static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        var remaining = seconds * 1000 + attoseconds / 1_000_000_000_000_000  // milliseconds
        guard remaining > 0 else { return "0ms" }
        var text = ""
        for (name, nanoseconds) in units.reversed() {
            let milliseconds = nanoseconds / 1_000_000
            guard remaining >= milliseconds else { continue }
            text += "\(remaining / milliseconds)\(name)"
            remaining %= milliseconds
        }
        return text
    }
}
