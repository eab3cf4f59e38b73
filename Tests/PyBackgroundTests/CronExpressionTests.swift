import Foundation
import PyBackgroundTesting
import Testing

@testable import PyBackground

@Suite("Cron expressions")
struct CronExpressionTests {
    /// A UTC instant from wall-clock text `YYYY-MM-DDTHH:MM:SS`.
    static func utc(_ text: String) -> Date {
        Date(timeIntervalSince1970: Double(wall(text).wallSeconds))
    }

    static func wall(_ text: String) -> CivilTime {
        let parts = text.split(whereSeparator: { "-T:".contains($0) }).map { Int($0)! }
        return CivilTime(year: parts[0], month: parts[1], day: parts[2], hour: parts[3], minute: parts[4], second: parts.count > 5 ? parts[5] : 0)
    }

    @Test(
        "the next firing after a time, in UTC",
        arguments: [
            ("* * * * *", "2026-01-01T00:00:00", "2026-01-01T00:01:00"),
            ("* * * * *", "2026-01-01T00:00:30", "2026-01-01T00:01:00"),
            ("*/15 * * * *", "2026-01-01T00:14:59", "2026-01-01T00:15:00"),
            ("*/15 * * * *", "2026-01-01T23:45:00", "2026-01-02T00:00:00"),
            ("5 4 * * *", "2026-12-31T04:05:00", "2027-01-01T04:05:00"),
            ("0 0 31 * *", "2026-01-31T00:00:00", "2026-03-31T00:00:00"),  // February and its 28 days skipped
            ("0 0 31 * *", "2026-04-01T00:00:00", "2026-05-31T00:00:00"),  // April has 30
            ("0 0 29 2 *", "2026-03-01T00:00:00", "2028-02-29T00:00:00"),  // the next leap day
            ("0 0 29 2 *", "2096-03-01T00:00:00", "2104-02-29T00:00:00"),  // 2100 is not a leap year
            ("0 12 * JAN,jul *", "2026-02-01T00:00:00", "2026-07-01T12:00:00"),
            ("0 9 * * MON-FRI", "2026-11-27T09:00:00", "2026-11-30T09:00:00"),  // Friday → Monday
            ("0 9 * * sat,SUN", "2026-11-27T10:00:00", "2026-11-28T09:00:00"),
            ("0 0 * * 7", "2026-11-27T00:00:00", "2026-11-29T00:00:00"),  // 7 is Sunday
            ("0 0 * * 0", "2026-11-27T00:00:00", "2026-11-29T00:00:00"),
            ("0 0 1 * MON", "2026-11-27T00:00:00", "2026-11-30T00:00:00"),  // either rule: a Monday first
            ("0 0 1 * MON", "2026-11-30T00:00:00", "2026-12-01T00:00:00"),  // then the 1st
            ("0 0 */10 * MON", "2026-11-27T00:00:00", "2026-12-21T00:00:00"),  // `*/10` is unrestricted: Mondays…
            ("0 0 */10 * MON", "2026-12-21T00:00:00", "2027-01-11T00:00:00"),  // …that are a 1st, 11th, 21st or 31st
            ("0 0 13 * FRI", "2026-11-14T00:00:00", "2026-11-20T00:00:00"),
            ("30 2-4/2 * * *", "2026-01-01T02:30:00", "2026-01-01T04:30:00"),
            ("10/20 * * * *", "2026-01-01T00:00:00", "2026-01-01T00:10:00"),
            ("10/20 * * * *", "2026-01-01T00:50:00", "2026-01-01T01:10:00"),
            ("0 0 1,15 * *", "2026-01-02T00:00:00", "2026-01-15T00:00:00"),
            ("*/10 * * * * *", "2026-01-01T00:00:05", "2026-01-01T00:00:10"),  // a seconds field
            ("0 */5 * * * *", "2026-01-01T00:00:00", "2026-01-01T00:05:00"),
            ("@hourly", "2026-01-01T00:00:00", "2026-01-01T01:00:00"),
            ("@daily", "2026-01-01T00:00:00", "2026-01-02T00:00:00"),
            ("@midnight", "2026-01-01T12:00:00", "2026-01-02T00:00:00"),
            ("@weekly", "2026-11-27T00:00:00", "2026-11-29T00:00:00"),
            ("@monthly", "2026-11-27T00:00:00", "2026-12-01T00:00:00"),
            ("@yearly", "2026-11-27T00:00:00", "2027-01-01T00:00:00"),
            ("@annually", "2026-11-27T00:00:00", "2027-01-01T00:00:00"),
        ])
    func nextFireInUTC(expression: String, after: String, expected: String) throws {
        let schedule = CronSchedule(try CronExpression(expression), timeZone: TimeZone(identifier: "UTC")!)
        #expect(schedule.nextFire(after: Self.utc(after)) == Self.utc(expected))
    }

    @Test(
        "a bad expression is refused with the field and what it accepts",
        arguments: [
            ("* * * *", CronExpressionError.Code.fieldCount, "has 4 fields"),
            ("* * * * * * *", .fieldCount, "has 7 fields"),
            ("", .fieldCount, "has 0 fields"),
            ("@reboot", .fieldCount, "unknown shorthand \"@reboot\""),
            ("60 * * * *", .invalidField, "minute field \"60\": 60 is out of range; accepted: 0-59"),
            ("* 24 * * *", .invalidField, "hour field \"24\""),
            ("* * 0 * *", .invalidField, "day of month field \"0\""),
            ("* * * 13 *", .invalidField, "month field \"13\""),
            ("* * * * 8", .invalidField, "day of week field \"8\""),
            ("* * * FOO *", .invalidField, "\"FOO\" is not a number or a name; accepted: 1-12 or JAN, FEB"),
            ("* * * * MON-SUNDAY", .invalidField, "\"SUNDAY\""),
            ("5-1 * * * *", .invalidField, "the range 5-1 runs backwards"),
            ("*/0 * * * *", .invalidField, "the step \"0\" must be a whole number from 1 to 60"),
            ("*/x * * * *", .invalidField, "the step \"x\""),
            ("1,,2 * * * *", .invalidField, "an empty list item"),
            ("? * * * *", .invalidField, "minute field \"?\""),
            ("0 0 30 2 *", .neverMatches, "never matches"),
            ("0 0 31 4,6,9,11 *", .neverMatches, "never matches"),
        ])
    func refusesBadExpressions(text: String, code: CronExpressionError.Code, fragment: String) {
        #expect {
            try CronExpression(text)
        } throws: { error in
            guard let error = error as? CronExpressionError else { return false }
            return error.code == code && error.message.contains(fragment)
        }
    }

    @Test("30 February with a weekday fires on that weekday in February (either rule)")
    func impossibleDayWithWeekday() throws {
        let schedule = CronSchedule(try CronExpression("0 0 30 2 MON"), timeZone: TimeZone(identifier: "UTC")!)
        #expect(schedule.nextFire(after: Self.utc("2026-11-27T00:00:00")) == Self.utc("2027-02-01T00:00:00"))
    }

    @Test("civil dates round-trip through days since 1970, weekdays included")
    func civilArithmetic() {
        var random = SplitMix64(seed: 0xC1F1)
        for _ in 0..<20_000 {
            let seconds = Int64.random(in: -4_000_000_000...8_000_000_000, using: &random)
            let time = CivilTime(wallSeconds: seconds)
            #expect(time.wallSeconds == seconds)
            let (days, remainder) = seconds.quotientAndRemainder(dividingBy: 86_400)
            let dayNumber = remainder < 0 ? days - 1 : days
            #expect(time.weekday == Int(((dayNumber % 7) + 7 + 4) % 7))
        }
        #expect(CivilTime(wallSeconds: 0).description == "1970-01-01T00:00:00")
        #expect(Self.wall("2000-02-29T12:00:00").weekday == 2)  // a Tuesday
    }
}
