import Foundation
import PyBackgroundTesting
import Testing

@testable import PyBackground

@Suite("Cron schedules across time zones and DST")
struct CronScheduleTests {
    static let berlin = TimeZone(identifier: "Europe/Berlin")!
    static let newYork = TimeZone(identifier: "America/New_York")!
    static let lordHowe = TimeZone(identifier: "Australia/Lord_Howe")!  // DST moves its clocks by 30 minutes

    /// An instant written as UTC.
    static func utc(_ text: String) -> Date { CronExpressionTests.utc(text) }

    /// The firings after `start`, in UTC wall text.
    static func firings(_ expression: String, in zone: TimeZone, after start: String, count: Int) throws -> [String] {
        let schedule = CronSchedule(try CronExpression(expression), timeZone: zone)
        var fired: [String] = []
        var now = utc(start)
        for _ in 0..<count {
            guard let next = schedule.nextFire(after: now) else { break }
            fired.append(CivilTime(wallSeconds: Int64(next.timeIntervalSince1970)).description)
            now = next
        }
        return fired
    }

    @Test(
        "daylight saving: a skipped wall time fires once at the end of the gap, a repeated one fires once",
        arguments: [
            // Berlin, 2026-03-29: 02:00 CET → 03:00 CEST (01:00 UTC). 02:30 does not exist: it fires at 03:00 CEST.
            ("30 2 * * *", berlin, "2026-03-27T12:00:00", ["2026-03-28T01:30:00", "2026-03-29T01:00:00", "2026-03-30T00:30:00"]),
            // Every 15 minutes through the gap: 02:00–02:45 all fire once, together, at 03:00.
            (
                "*/15 1-3 29 3 *", berlin, "2026-03-29T00:30:00",
                ["2026-03-29T00:45:00", "2026-03-29T01:00:00", "2026-03-29T01:15:00", "2026-03-29T01:30:00", "2026-03-29T01:45:00"]
            ),
            // Berlin, 2026-10-25: 03:00 CEST → 02:00 CET (01:00 UTC). 02:30 happens twice: it fires the first time.
            ("30 2 * * *", berlin, "2026-10-23T12:00:00", ["2026-10-24T00:30:00", "2026-10-25T00:30:00", "2026-10-26T01:30:00"]),
            // Every 30 minutes through the repeated hour: 02:00 and 02:30 once each, then 03:00 CET.
            (
                "0,30 2-3 25 10 *", berlin, "2026-10-24T23:00:00",
                ["2026-10-25T00:00:00", "2026-10-25T00:30:00", "2026-10-25T02:00:00", "2026-10-25T02:30:00"]
            ),
            // New York, 2026-03-08: 02:00 EST → 03:00 EDT (07:00 UTC).
            ("30 2 * * *", newYork, "2026-03-07T12:00:00", ["2026-03-08T07:00:00", "2026-03-09T06:30:00"]),
            // New York, 2026-11-01: 02:00 EDT → 01:00 EST (06:00 UTC). 01:30 happens twice: once.
            ("30 1 * * *", newYork, "2026-10-31T12:00:00", ["2026-11-01T05:30:00", "2026-11-02T06:30:00"]),
            // Hourly through the New York autumn change: 01:00 EDT, 02:00 EST (01:00 EST is not repeated).
            ("0 * 1 11 *", newYork, "2026-11-01T04:30:00", ["2026-11-01T05:00:00", "2026-11-01T07:00:00", "2026-11-01T08:00:00"]),
            // Lord Howe, 2026-04-05: 02:00 +11 → 01:30 +10:30 (15:00 UTC the day before). 01:45 happens twice: once.
            ("45 1 * * *", lordHowe, "2026-04-03T12:00:00", ["2026-04-03T14:45:00", "2026-04-04T14:45:00", "2026-04-05T15:15:00"]),
        ] as [(String, TimeZone, String, [String])])
    func daylightSaving(expression: String, zone: TimeZone, start: String, expected: [String]) throws {
        #expect(try Self.firings(expression, in: zone, after: start, count: expected.count) == expected)
    }

    @Test("an interval fires on its grid from its start, never twice at one point")
    func intervalGrid() {
        let start = Self.utc("2026-01-01T00:00:00")
        let interval = IntervalSchedule(every: .milliseconds(100), startingAt: start)
        #expect(interval.nextFire(after: start.addingTimeInterval(-5)) == start)
        var now = start
        for step in 1...1000 {
            let next = interval.nextFire(after: now)
            #expect(abs(next.timeIntervalSince(start) - Double(step) * 0.1) < 1e-6)
            now = next
        }
        #expect(abs(interval.nextFire(after: start.addingTimeInterval(0.25)).timeIntervalSince(start) - 0.3) < 1e-6)
    }

    /// Random expressions that exercise every field form, reproducible from the seed.
    static func randomExpression(_ random: inout SplitMix64) -> String {
        func field(_ range: ClosedRange<Int>, names: [String] = []) -> String {
            switch Int.random(in: 0..<8, using: &random) {
            case 0, 1: return "*"
            case 2: return "*/\(Int.random(in: 1...max(1, (range.upperBound - range.lowerBound) / 2), using: &random))"
            case 3:
                let low = Int.random(in: range, using: &random)
                return "\(low)-\(Int.random(in: low...range.upperBound, using: &random))"
            case 4:
                let low = Int.random(in: range, using: &random)
                return "\(low)-\(Int.random(in: low...range.upperBound, using: &random))/\(Int.random(in: 1...5, using: &random))"
            case 5 where !names.isEmpty: return names.randomElement(using: &random)!
            case 6: return (0..<Int.random(in: 2...4, using: &random)).map { _ in "\(Int.random(in: range, using: &random))" }.joined(separator: ",")
            default: return "\(Int.random(in: range, using: &random))"
            }
        }
        let seconds = Bool.random(using: &random) ? field(0...59) + " " : ""
        return seconds
            + [field(0...59), field(0...23), field(1...28), field(1...12, names: ["JAN", "jun", "Dec"]), field(0...6, names: ["MON", "sun"])]
            .joined(separator: " ")
    }

    @Test("property: the next firing is after the given time, matches, and nothing matches in between (UTC and Berlin)")
    func nextFireProperties() throws {
        var random = SplitMix64(seed: 0xC0FFEE)
        var checked = 0
        for _ in 0..<3_000 {
            let text = Self.randomExpression(&random)
            let expression = try CronExpression(text)
            let zone = Bool.random(using: &random) ? TimeZone(identifier: "UTC")! : Self.berlin
            let schedule = CronSchedule(expression, timeZone: zone)
            let after = Date(timeIntervalSince1970: Double(Int64.random(in: 1_700_000_000...1_900_000_000, using: &random)))
            guard let next = schedule.nextFire(after: after) else { continue }
            #expect(next > after, "\(text) after \(after)")
            let wall = { (date: Date) in CivilTime(wallSeconds: Int64(date.timeIntervalSince1970) + Int64(zone.secondsFromGMT(for: date))) }
            let nextWall = wall(next)
            // It matches, unless it is the end of a DST gap standing in for a skipped wall time.
            let gapEnd = zone.secondsFromGMT(for: next.addingTimeInterval(-1)) < zone.secondsFromGMT(for: next)
            #expect(expression.matches(nextWall) || gapEnd, "\(text) in \(zone.identifier) after \(after): \(next) is \(nextWall)")
            // Nothing in between matches: scan every second of short spans, every minute of longer ones
            // (an expression without a seconds field matches only at second 0).
            let span = Int64(next.timeIntervalSince(after))
            let step: Int64 = expression.hasSeconds ? 1 : 60
            guard span / step <= 20_000 else { continue }
            // A wall time already passed (the repeated hour after clocks go back) is not due again.
            let origin = Int64(after.timeIntervalSince1970.rounded(.down))
            var highest = stride(from: origin - 21_600, through: origin, by: 60).map { wall(Date(timeIntervalSince1970: Double($0))) }.max()!
            var instant = origin + 1
            if !expression.hasSeconds { instant = (instant + 59) / 60 * 60 }
            while instant < Int64(next.timeIntervalSince1970) {
                let date = Date(timeIntervalSince1970: Double(instant))
                let seen = wall(date)
                if seen > highest {
                    #expect(!expression.matches(seen), "\(text) in \(zone.identifier): \(date) matches before \(next)")
                    highest = seen
                }
                instant += step
            }
            checked += 1
        }
        #expect(checked > 500)
    }
}
