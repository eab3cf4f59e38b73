/// One field of a cron expression as the set of values it matches (a bit per value), with the
/// parser for the field's syntax: `*`, values, names, ranges `a-b`, steps `*/n`, `a-b/n`, `a/n`,
/// and comma-separated lists of those.
struct CronField: Hashable, Sendable {
    /// What a field is called in messages, its bounds and the names it accepts.
    struct Kind: Sendable {
        let name: String
        let range: ClosedRange<Int>
        /// Lowercase three-letter names and their values (months, weekdays).
        let names: [String: Int]
        /// The weekday field also takes 7 for Sunday.
        let sevenIsZero: Bool

        static let second = Kind(name: "second", range: 0...59, names: [:], sevenIsZero: false)
        static let minute = Kind(name: "minute", range: 0...59, names: [:], sevenIsZero: false)
        static let hour = Kind(name: "hour", range: 0...23, names: [:], sevenIsZero: false)
        static let dayOfMonth = Kind(name: "day of month", range: 1...31, names: [:], sevenIsZero: false)
        static let month = Kind(
            name: "month", range: 1...12,
            names: ["jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12],
            sevenIsZero: false)
        static let dayOfWeek = Kind(
            name: "day of week", range: 0...7, names: ["sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6],
            sevenIsZero: true)

        var accepted: String {
            let upper = sevenIsZero ? 7 : range.upperBound
            var text = "\(range.lowerBound)-\(upper)"
            if !names.isEmpty { text += " or \(names.sorted { $0.value < $1.value }.map { $0.key.uppercased() }.joined(separator: ", "))" }
            if sevenIsZero { text += " (0 and 7 are Sunday)" }
            return text
        }
    }

    /// Bit `v` set: value `v` matches.
    let bits: UInt64
    /// False for a field that starts with `*` (`*`, `*/2`): Vixie cron's day-of-month/day-of-week
    /// rule treats such a day field as unrestricted.
    let isRestricted: Bool

    init(bits: UInt64, isRestricted: Bool) {
        self.bits = bits
        self.isRestricted = isRestricted
    }

    func contains(_ value: Int) -> Bool { bits & (1 << UInt64(value)) != 0 }

    /// The smallest matching value ≥ `value`, if any.
    func next(atOrAfter value: Int) -> Int? {
        guard value < 64 else { return nil }
        let from = UInt64(max(value, 0))
        let remaining = (bits >> from) << from
        return remaining == 0 ? nil : remaining.trailingZeroBitCount
    }

    /// The smallest matching value.
    var first: Int? { bits == 0 ? nil : bits.trailingZeroBitCount }

    static func parse(_ text: Substring, as kind: Kind) throws(CronExpressionError) -> CronField {
        func refuse(_ why: String) -> CronExpressionError {
            CronExpressionError(.invalidField, "\(kind.name) field \"\(text)\": \(why); accepted: \(kind.accepted), *, a-b, */n, a-b/n, lists a,b")
        }
        func value(_ word: Substring) throws(CronExpressionError) -> Int {
            if let number = Int(word), kind.range.contains(number) { return number }
            if let named = kind.names[word.lowercased()] { return named }
            if Int(word) != nil { throw refuse("\(word) is out of range") }
            throw refuse("\"\(word)\" is not a number\(kind.names.isEmpty ? "" : " or a name")")
        }
        var bits: UInt64 = 0
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard !part.isEmpty else { throw refuse("an empty list item") }
            let pieces = part.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            let base = pieces[0]
            var step = 1
            if pieces.count == 2 {
                guard let parsed = Int(pieces[1]), parsed >= 1, parsed <= kind.range.upperBound - kind.range.lowerBound + 1 else {
                    throw refuse("the step \"\(pieces[1])\" must be a whole number from 1 to \(kind.range.upperBound - kind.range.lowerBound + 1)")
                }
                step = parsed
            }
            var low: Int
            var high: Int
            if base == "*" {
                (low, high) = (kind.range.lowerBound, kind.sevenIsZero ? 6 : kind.range.upperBound)
            } else if let dash = base.firstIndex(of: "-") {
                low = try value(base[..<dash])
                high = try value(base[base.index(after: dash)...])
                guard low <= high else { throw refuse("the range \(base) runs backwards") }
            } else {
                low = try value(base)
                // `a/n` means from a to the end of the field, every n (as cronie and croniter read it).
                high = pieces.count == 2 ? (kind.sevenIsZero ? 6 : kind.range.upperBound) : low
            }
            for matched in stride(from: low, through: high, by: step) {
                bits |= 1 << UInt64(kind.sevenIsZero && matched == 7 ? 0 : matched)
            }
        }
        return CronField(bits: bits, isRestricted: !text.hasPrefix("*"))
    }
}
