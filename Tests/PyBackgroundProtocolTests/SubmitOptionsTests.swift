import Foundation
import PyBackgroundProtocol
import PyBackgroundTesting
import Testing

@Suite("Submission options: spans, times, and the words before the task name")
struct SubmitOptionsTests {
    @Test(
        "spans of time as people type them",
        arguments: [
            ("10s", Duration.seconds(10), "10s"),
            ("5m", .seconds(300), "5m"),
            ("2h", .seconds(7200), "2h"),
            ("1d", .seconds(86_400), "1d"),
            ("1h30m", .seconds(5400), "1h30m"),
            ("90s", .seconds(90), "1m30s"),
            ("0.5s", .milliseconds(500), "500ms"),
            ("250ms", .milliseconds(250), "250ms"),
            ("1.5h", .seconds(5400), "1h30m"),
            ("3650d", .seconds(3650 * 86_400), "3650d"),
        ])
    func spans(text: String, expected: Duration, canonical: String) throws {
        #expect(try TimeSpan.parse(Substring(text)) == expected)
        #expect(TimeSpan.format(expected) == canonical)
        #expect(try TimeSpan.parse(Substring(canonical)) == expected)
    }

    @Test(
        "a bad span is refused with what was wrong",
        arguments: [
            ("", "it is empty"), ("10", "10 has no unit"), ("10x", "\"x\" is not a unit"), ("s", "a number must come before each unit"),
            ("-5s", "a number must come before each unit"), ("0s", "shorter than 1ms"), ("3651d", "longer than 3650d"),
            ("1h 30m", "a number must come before each unit"),
        ])
    func badSpans(text: String, fragment: String) {
        #expect {
            try TimeSpan.parse(Substring(text))
        } throws: { error in
            guard let error = error as? ProtocolError else { return false }
            return error.code == .badRequest && error.message.contains(fragment) && error.message.contains("10s, 5m, 1h30m")
        }
    }

    @Test(
        "times, RFC 3339 with or without an offset",
        arguments: [
            ("2026-12-01T03:00", "2026-12-01T03:00:00", 1_796_094_000.0),  // no offset: read as UTC here
            ("2026-12-01 03:00:30", "2026-12-01T03:00:30", 1_796_094_030),
            ("2026-12-01T03:00:00Z", "2026-12-01T03:00:00Z", 1_796_094_000),
            ("2026-12-01t03:00:00z", "2026-12-01T03:00:00Z", 1_796_094_000),
            ("2026-12-01T03:00+01:00", "2026-12-01T03:00:00+01:00", 1_796_090_400),
            ("2026-12-01T03:00:00-0530", "2026-12-01T03:00:00-05:30", 1_796_113_800),
            ("2026-12-01T03:00:00.25Z", "2026-12-01T03:00:00.25Z", 1_796_094_000.25),
            ("2028-02-29T00:00Z", "2028-02-29T00:00:00Z", 1_835_395_200),
        ])
    func times(text: String, canonical: String, epoch: Double) throws {
        let time = try Timestamp.parse(Substring(text))
        #expect(time.description == canonical)
        #expect(time.epochSeconds(offsetIfLocal: 0) == epoch)
        #expect(try Timestamp.parse(Substring(canonical)) == time)
    }

    @Test(
        "a bad time is refused with what was wrong and the form accepted",
        arguments: [
            ("tomorrow", "the year must be 4 digits"), ("2026-12-01", "expected T between the date and the time"),
            ("2026-13-01T00:00", "month 13 does not exist"), ("2026-02-29T00:00", "day 29 does not exist"),
            ("2026-12-01T24:00", "out of range"), ("2026-12-01T03:00+25:00", "the offset is out of range"),
            ("2026-12-01T03:00:00.", "needs digits"), ("2026-12-01T03:00Z!", "something follows the offset"),
            ("2026-12-01T03:00 PM", "unexpected"),
        ])
    func badTimes(text: String, fragment: String) {
        #expect {
            try Timestamp.parse(Substring(text))
        } throws: { error in
            guard let error = error as? ProtocolError else { return false }
            return error.code == .badRequest && error.message.contains(fragment) && error.message.contains("YYYY-MM-DDTHH:MM")
        }
    }

    @Test("options are the key=value words before the task name; the task's own words are untouched")
    func optionsBeforeTheTaskName() throws {
        let (options, rest) = try SubmitOptions.take(from: ["in=10m", "backup", "/srv", "in=5s", "at=x"])
        #expect(options.timing == .after(.seconds(600)))
        #expect(rest == ["backup", "/srv", "in=5s", "at=x"])
        let (none, all) = try SubmitOptions.take(from: ["noop"])
        #expect(none.isEmpty && all == ["noop"])
        let (timed, _) = try SubmitOptions.take(from: ["at=2026-12-01T03:00+01:00", "backup"])
        #expect(timed.timing == .at(Timestamp(year: 2026, month: 12, day: 1, hour: 3, minute: 0, offsetSeconds: 3600)))
    }

    @Test(
        "an unknown, repeated or conflicting option is refused",
        arguments: [
            (["colour=red", "noop"], "unknown option \"colour\" before the task name; options: in=…, at=…, queue=…"),
            (["queue=-io", "noop"], "queue=-io is not a queue name"),
            (["priority=high", "noop"], "priority=high is not a whole number from -1000000 to 1000000"),
            (["priority=1000001", "noop"], "priority=1000001 is not a whole number"),
            (["after=xyz", "noop"], "after=xyz must be task ids or id prefixes"),
            (["after=ab,,cd", "noop"], "after=ab,,cd must be task ids"),
            (["attempts=0", "noop"], "attempts=0 is not a whole number from 1 to 1000"),
            (["timeout=0s", "noop"], "is not a length of time"),
            (["unique=", "noop"], "unique= must be 1 to 200 bytes"),
            (["retry_of=abc", "noop"], "retry_of=abc must be a whole task id"),
            (["in=1s", "in=2s", "noop"], "option in= is given twice"),
            (["in=1s", "at=2026-12-01T03:00", "noop"], "in= and at= both say when to run"),
            (["in=soon", "noop"], "\"soon\" is not a length of time"),
        ])
    func badOptions(words: [String], fragment: String) {
        #expect {
            try SubmitOptions.take(from: words)
        } throws: { error in
            (error as? ProtocolError)?.message.contains(fragment) == true
        }
    }

    @Test("flow options are read with their limits; a submission without any stays one empty word")
    func flowOptions() throws {
        let (options, rest) = try SubmitOptions.take(
            from: ["queue=io", "priority=-5", "after=3f2a,77C1", "attempts=3", "timeout=1m30s", "unique=nightly", "backup", "/srv"])
        #expect(options.queue == "io" && options.priority == -5 && options.after == ["3f2a", "77C1"])
        #expect(options.attempts == 3 && options.timeout == .seconds(90) && options.unique == "nightly" && rest == ["backup", "/srv"])
        #expect(options.hasFlowOptions && options.flowWords == ["queue=io", "priority=-5", "after=3f2a,77C1", "attempts=3", "timeout=1m30s", "unique=nightly"])
        #expect(!SubmitOptions(timing: .after(.seconds(1))).hasFlowOptions)
        #expect(MemoryLayout<SubmitOptions>.size == MemoryLayout<Int>.size)
    }

    @Test("property: options written as words are read back the same")
    func roundTrip() throws {
        var random = SplitMix64(seed: 0x0971_0175)
        for _ in 0..<2_000 {
            var options = SubmitOptions()
            switch Int.random(in: 0..<3, using: &random) {
            case 0: break
            case 1: options.timing = .after(.milliseconds(Int64.random(in: 1...(3650 * 86_400_000), using: &random)))
            default:
                options.timing = .at(
                    Timestamp(
                        year: Int.random(in: 1970...2200, using: &random), month: Int.random(in: 1...12, using: &random),
                        day: Int.random(in: 1...28, using: &random), hour: Int.random(in: 0...23, using: &random),
                        minute: Int.random(in: 0...59, using: &random), second: Int.random(in: 0...59, using: &random),
                        nanosecond: Int.random(in: 0...1, using: &random) * Int.random(in: 0..<1_000_000_000, using: &random),
                        offsetSeconds: Bool.random(using: &random) ? nil : Int.random(in: -95...95, using: &random) * 900))
            }
            if Bool.random(using: &random) { options.queue = ["io", "default", "q.1"][Int.random(in: 0..<3, using: &random)] }
            if Bool.random(using: &random) { options.priority = Int.random(in: SubmitOptions.priorityRange, using: &random) }
            if Bool.random(using: &random) {
                options.after = (0..<Int.random(in: 1...3, using: &random)).map { _ in String(UInt64.random(in: 1...UInt64.max, using: &random), radix: 16) }
            }
            if Bool.random(using: &random) { options.attempts = Int.random(in: SubmitOptions.attemptsRange, using: &random) }
            if Bool.random(using: &random) { options.timeout = .milliseconds(Int64.random(in: 1...86_400_000, using: &random)) }
            if Bool.random(using: &random) { options.unique = "key-\(Int.random(in: 0...99, using: &random))" }
            let (read, rest) = try SubmitOptions.take(from: options.words + ["noop", "a=1"])
            #expect(read == options && rest == ["noop", "a=1"], "\(options.words)")
        }
    }
}

@Suite("Wall times read in a time zone, by the DST rule of cron")
struct TimestampZoneTests {
    @Test(
        "a wall time without an offset is read in the zone; a skipped one is the transition, a repeated one its first occurrence",
        arguments: [
            ("Europe/Berlin", "2026-07-01T12:00", "2026-07-01T10:00:00Z"),
            ("Europe/Berlin", "2026-12-01T12:00", "2026-12-01T11:00:00Z"),
            ("Europe/Berlin", "2026-03-29T02:30", "2026-03-29T01:00:00Z"),  // does not exist: 03:00 CEST
            ("Europe/Berlin", "2026-10-25T02:30", "2026-10-25T00:30:00Z"),  // twice: the first, CEST
            ("America/New_York", "2026-03-08T02:15", "2026-03-08T07:00:00Z"),
            ("America/New_York", "2026-11-01T01:30", "2026-11-01T05:30:00Z"),
            ("Australia/Lord_Howe", "2026-10-04T02:10", "2026-10-03T15:30:00Z"),  // a half-hour gap
            ("Europe/Berlin", "2026-07-01T12:00+05:00", "2026-07-01T07:00:00Z"),  // an offset wins over the zone
        ])
    func wallTimes(zone: String, text: String, expected: String) throws {
        let date = try Timestamp.parse(Substring(text)).date(in: #require(TimeZone(identifier: zone)))
        let utc = try Timestamp.parse(Substring(expected))
        #expect(date.timeIntervalSince1970 == utc.epochSeconds(offsetIfLocal: 0))
    }

    @Test("property: an instant written with an offset reads back as the same instant")
    func instantRoundTrip() {
        var random = SplitMix64(seed: 0x5EED_0417)
        for _ in 0..<5_000 {
            let seconds = Double(Int64.random(in: -2_000_000_000...8_000_000_000, using: &random))
            let offset = Int.random(in: -95...95, using: &random) * 900
            let stamp = Timestamp(Date(timeIntervalSince1970: seconds), offsetSeconds: offset)
            #expect(stamp.offsetSeconds == offset)
            #expect(stamp.epochSeconds(offsetIfLocal: 0) == seconds, "\(stamp)")
            #expect((try? Timestamp.parse(Substring(stamp.description))) == stamp || stamp.year > 9999 || stamp.year < 0)
        }
    }
}
