/// A cron expression: the standard five fields (minute, hour, day of month, month, day of week),
/// optionally preceded by a seconds field, or one of the shorthands `@yearly` (`@annually`),
/// `@monthly`, `@weekly`, `@daily` (`@midnight`) and `@hourly`.
///
/// Each field takes `*`, a value, a range `a-b`, a step `*/n`, `a-b/n` or `a/n`, or a comma list of
/// those; months and weekdays also take their English three-letter names (`JAN`, `MON`; any case),
/// and the weekday field takes 0 or 7 for Sunday. As in Vixie cron, when both the day-of-month and
/// the day-of-week field are restricted (neither starts with `*`), a day matches if **either**
/// matches: `0 0 1 * MON` runs on the first of each month and on every Monday.
///
/// ```swift
/// let weekdays = try CronExpression("30 9 * * MON-FRI")      // 09:30 on weekdays
/// let often = try CronExpression("*/10 * * * * *")          // every 10 seconds
/// ```
public struct CronExpression: Hashable, Sendable, CustomStringConvertible {
    let seconds: CronField
    let minutes: CronField
    let hours: CronField
    let daysOfMonth: CronField
    let months: CronField
    let daysOfWeek: CronField
    /// The text it was parsed from, as written.
    public let description: String
    /// Whether it has a seconds field (six fields): it may fire more than once a minute.
    public let hasSeconds: Bool

    private static let shorthands = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]

    /// Parses `text`; throws a ``CronExpressionError`` naming the field and what it accepts.
    public init(_ text: String) throws(CronExpressionError) {
        description = text
        let trimmed = text.trimmingWhitespace()
        var expanded = Substring(trimmed)
        if trimmed.hasPrefix("@") {
            guard let fields = Self.shorthands[trimmed.lowercased()] else {
                throw CronExpressionError(
                    .fieldCount, "unknown shorthand \"\(trimmed)\"; accepted: \(Self.shorthands.keys.sorted().joined(separator: ", "))")
            }
            expanded = Substring(fields)
        }
        let words = expanded.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard words.count == 5 || words.count == 6 else {
            throw CronExpressionError(
                .fieldCount,
                "\"\(text)\" has \(words.count) field\(words.count == 1 ? "" : "s"); a cron expression has 5 (minute hour day-of-month month day-of-week), or 6 with a seconds field first, or is one of @yearly, @monthly, @weekly, @daily, @hourly"
            )
        }
        hasSeconds = words.count == 6
        let fields = hasSeconds ? Array(words) : ["0"] + words
        seconds = try CronField.parse(fields[0], as: .second)
        minutes = try CronField.parse(fields[1], as: .minute)
        hours = try CronField.parse(fields[2], as: .hour)
        daysOfMonth = try CronField.parse(fields[3], as: .dayOfMonth)
        months = try CronField.parse(fields[4], as: .month)
        daysOfWeek = try CronField.parse(fields[5], as: .dayOfWeek)
        // Only a day of month that no named month has (and no weekday to fall back on) never matches.
        if daysOfMonth.isRestricted && !daysOfWeek.isRestricted, let smallest = daysOfMonth.first,
            !(1...12).contains(where: { months.contains($0) && smallest <= CivilTime.daysIn(month: $0, year: 2000) })
        {
            throw CronExpressionError(.neverMatches, "\"\(text)\" never matches: none of the months it names has a day \(smallest)")
        }
    }

    /// Whether the wall time matches every field (with the day rule above).
    func matches(_ time: CivilTime) -> Bool {
        seconds.contains(time.second) && minutes.contains(time.minute) && hours.contains(time.hour)
            && months.contains(time.month) && matchesDay(time)
    }

    private func matchesDay(_ time: CivilTime) -> Bool {
        let dayOfMonth = daysOfMonth.contains(time.day)
        let dayOfWeek = daysOfWeek.contains(time.weekday)
        if daysOfMonth.isRestricted && daysOfWeek.isRestricted { return dayOfMonth || dayOfWeek }
        return dayOfMonth && dayOfWeek
    }

    /// The first wall time after `time` (by at least a second) that matches, searching up to
    /// `years` ahead (29 February on a given weekday may take 28 years).
    func nextWallTime(after time: CivilTime, years: Int = 30) -> CivilTime? {
        var candidate = CivilTime(wallSeconds: time.wallSeconds + 1)
        let lastYear = time.year + years
        while candidate.year <= lastYear {
            guard let month = months.next(atOrAfter: candidate.month) else {
                candidate = CivilTime(year: candidate.year + 1, month: 1, day: 1)
                continue
            }
            if month != candidate.month {
                candidate = CivilTime(year: candidate.year, month: month, day: 1)
            }
            guard candidate.day <= CivilTime.daysIn(month: candidate.month, year: candidate.year), matchesDay(candidate) else {
                candidate = CivilTime(wallSeconds: Int64(CivilTime.days(year: candidate.year, month: candidate.month, day: candidate.day) + 1) * 86_400)
                continue
            }
            guard let hour = hours.next(atOrAfter: candidate.hour) else {
                candidate = CivilTime(wallSeconds: Int64(CivilTime.days(year: candidate.year, month: candidate.month, day: candidate.day) + 1) * 86_400)
                continue
            }
            if hour != candidate.hour { (candidate.hour, candidate.minute, candidate.second) = (hour, 0, 0) }
            guard let minute = minutes.next(atOrAfter: candidate.minute) else {
                candidate = CivilTime(wallSeconds: candidate.wallSeconds - Int64(candidate.minute * 60 + candidate.second) + 3600)
                continue
            }
            if minute != candidate.minute { (candidate.minute, candidate.second) = (minute, 0) }
            guard let second = seconds.next(atOrAfter: candidate.second) else {
                candidate = CivilTime(wallSeconds: candidate.wallSeconds - Int64(candidate.second) + 60)
                continue
            }
            candidate.second = second
            return candidate
        }
        return nil
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
