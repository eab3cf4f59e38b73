#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension Timestamp {
    /// The instant this time names; a wall time without an offset is read in `zone`, by the rule
    /// cron schedules follow across DST: a wall time that occurs twice means its first occurrence,
    /// one that does not exist (skipped by a spring-forward) means the first valid moment after
    /// it, the transition.
    ///
    /// ```swift
    /// let zone = TimeZone(identifier: "Europe/Berlin")!
    /// try Timestamp.parse("2026-03-29T02:30").date(in: zone)   // 2026-03-29T01:00:00Z (03:00 CEST)
    /// ```
    public func date(in zone: TimeZone) -> Date {
        Date(timeIntervalSince1970: epochSeconds { zone.secondsFromGMT(for: Date(timeIntervalSince1970: $0)) })
    }

    /// ``date(in:)`` for a zone given as its offset east of UTC at each instant (seconds since the
    /// epoch): what a client without Foundation's time zones reads from `localtime_r`.
    public func epochSeconds(offsetAt offset: (Double) -> Int) -> Double {
        if offsetSeconds != nil { return epochSeconds(offsetIfLocal: 0) }
        let wall = epochSeconds(offsetIfLocal: 0)
        // Around a wall time a zone has at most two offsets: those a day before and a day after.
        let offsets = Set([-86_400.0, 0, 86_400].map { offset(wall + $0) })
        let valid = offsets.map { wall - Double($0) }.filter { offset($0) == Int(wall - $0) }
        if let first = valid.min() { return first }
        // In a gap: the transition lies between the wall time read with the offset after it and
        // read with the one before; zones change offset on a whole second.
        var before = (wall - Double(offsets.max() ?? 0)).rounded(.down)
        var after = (wall - Double(offsets.min() ?? 0)).rounded(.up)
        let later = offset(after)
        while after - before > 1 {
            let middle = ((before + after) / 2).rounded(.down)
            if offset(middle) == later { after = middle } else { before = middle }
        }
        return after
    }

    /// The time of `date` as a wall clock `offsetSeconds` east of UTC shows it, with that offset:
    /// what a client sends so that the daemon's zone plays no part.
    public init(_ date: Date, offsetSeconds: Int) {
        self.init(instant: date.timeIntervalSince1970, offsetSeconds: offsetSeconds)
    }

    /// ``init(_:offsetSeconds:)`` for an instant in seconds since the epoch.
    public init(instant: Double, offsetSeconds: Int) {
        let seconds = instant + Double(offsetSeconds)
        let whole = seconds.rounded(.down)
        let days = Int((whole / 86_400).rounded(.down))
        let secondOfDay = Int(whole) - days * 86_400
        // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        self.init(
            year: year, month: month, day: day, hour: secondOfDay / 3600, minute: secondOfDay % 3600 / 60, second: secondOfDay % 60,
            nanosecond: Int(((seconds - whole) * 1e9).rounded()) % 1_000_000_000, offsetSeconds: offsetSeconds)
    }
}
