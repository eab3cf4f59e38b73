import PyBackgroundProtocol
import PyBackgroundTesting
import Testing

@Suite("Schedule definitions: SCHEDULE's words and the config's keys")
struct ScheduleSpecTests {
    @Test(
        "options before the task, the task's words after it",
        arguments: [
            (["every=30s", "noop"], ScheduleSpec(trigger: .every(.seconds(30)), task: "noop")),
            (
                ["cron=30 2 * * *", "tz=Europe/Berlin", "misfire=skip", "backup", "/srv", "every=1s"],
                ScheduleSpec(trigger: .cron("30 2 * * *"), timeZone: "Europe/Berlin", misfire: .skip, task: "backup", arguments: ["/srv", "every=1s"])
            ),
            (
                ["every=5m", "start=2026-12-01T03:00Z", "misfire=all:7", "overlap=queue", "now", "cost=2"],
                ScheduleSpec(
                    trigger: .every(.seconds(300)), start: Timestamp(year: 2026, month: 12, day: 1, hour: 3, minute: 0, offsetSeconds: 0),
                    misfire: .all(maximum: 7), overlap: .queue, task: "now", arguments: ["cost=2"])
            ),
            (
                ["cron=@daily", "misfire=ALL", "overlap=Skip", "noop"],
                ScheduleSpec(trigger: .cron("@daily"), misfire: .all(maximum: 100), overlap: .skip, task: "noop")
            ),
        ])
    func parses(words: [String], expected: ScheduleSpec) throws {
        let spec = try ScheduleSpec.parse(words)
        #expect(spec == expected)
        #expect(try ScheduleSpec.parse(spec.words) == spec)
    }

    @Test(
        "a bad definition is refused naming what was wrong and what is accepted",
        arguments: [
            (["noop"], "needs every=SPAN"), (["every=1m"], "needs a task"), (["every=1m", "cron=* * * * *", "noop"], "give one"),
            (["every=soon", "noop"], "not a length of time"), (["cron=", "noop"], "needs an expression"),
            (["every=1m", "tz=UTC", "noop"], "tz= goes with cron="), (["cron=@daily", "start=2026-12-01T03:00", "noop"], "start= goes with every="),
            (["every=1m", "misfire=later", "noop"], "skip, once, all or all:N"), (["every=1m", "misfire=all:0", "noop"], "N from 1 to 100000"),
            (["every=1m", "overlap=wait", "noop"], "allow, skip or queue"), (["every=1m", "when=now", "noop"], "unknown schedule option \"when\""),
            (["every=1m", "every=2m", "noop"], "given twice"),
        ])
    func refuses(words: [String], fragment: String) {
        #expect {
            try ScheduleSpec.parse(words)
        } throws: { error in
            guard let error = error as? ProtocolError else { return false }
            return error.code == .badRequest && error.message.contains(fragment)
        }
    }

    @Test("SCHEDULE requests parse and format back; names are checked")
    func requests() throws {
        let lines: [(String, Request)] = [
            ("SCHEDULE LIST", .schedule(.list)), ("schedule show beat", .schedule(.show(name: "beat"))),
            ("SCHEDULE PAUSE beat", .schedule(.pause(name: "beat"))), ("SCHEDULE RESUME beat", .schedule(.resume(name: "beat"))),
            ("SCHEDULE REMOVE beat", .schedule(.remove(name: "beat"))),
            ("SCHEDULE ADD beat every=30s noop", .schedule(.add(name: "beat", spec: ScheduleSpec(trigger: .every(.seconds(30)), task: "noop")))),
            (
                "SCHEDULE ADD n cron=\"*/5 * * * *\" echo \"hi there\"",
                .schedule(.add(name: "n", spec: ScheduleSpec(trigger: .cron("*/5 * * * *"), task: "echo", arguments: ["hi there"])))
            ),
        ]
        for (line, request) in lines {
            #expect(try Request(parsing: line) == request)
            #expect(try Request(parsing: request.line) == request)
        }
        for bad in ["SCHEDULE", "SCHEDULE FROB x", "SCHEDULE SHOW", "SCHEDULE ADD -x every=1m noop", "SCHEDULE ADD a/b every=1m noop", "SCHEDULE LIST x"] {
            #expect(throws: ProtocolError.self, "\(bad)") { try Request(parsing: bad) }
        }
    }
}
