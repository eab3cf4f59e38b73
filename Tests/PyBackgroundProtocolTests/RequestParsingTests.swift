import PyBackgroundProtocol
import PyBackgroundTesting
import Testing

@Suite("Request parsing and formatting")
struct RequestParsingTests {
    @Test(
        "valid lines parse to their request",
        arguments: [
            ("PING", Request.ping),
            ("ping", .ping),
            ("PING\r", .ping),
            ("SUBMIT now", .submit(task: "now", arguments: [])),
            ("SUBMIT now 2", .submit(task: "now", arguments: ["2"])),
            ("submit  now   cost=2 ", .submit(task: "now", arguments: ["cost=2"])),
            ("SUBMIT echo \"hello world\" x", .submit(task: "echo", arguments: ["hello world", "x"])),
            ("SUBMIT echo \"a\\\"b\\\\c\\nd\\te\"", .submit(task: "echo", arguments: ["a\"b\\c\nd\te"])),
            ("SUBMIT echo \"\"", .submit(task: "echo", arguments: [""])),
            ("SUBMIT echo C:\\dir", .submit(task: "echo", arguments: ["C:\\dir"])),
            ("SUBMIT echo ab\"c d\"e", .submit(task: "echo", arguments: ["abc de"])),
            ("SUBMIT in=10m backup /srv in=5s", .submit(task: "backup", arguments: ["/srv", "in=5s"], options: SubmitOptions(timing: .after(.seconds(600))))),
            (
                "SUBMIT at=2026-12-01T03:00Z noop",
                .submit(
                    task: "noop", arguments: [],
                    options: SubmitOptions(timing: .at(Timestamp(year: 2026, month: 12, day: 1, hour: 3, minute: 0, offsetSeconds: 0))))
            ),
            ("STATUS", .status),
            ("TASKS", .tasks(limit: .default)),
            ("TASKS 5", .tasks(limit: .mostRecent(5))),
            ("TASKS all", .tasks(limit: .all)),
            ("FUTURES ALL", .futures(limit: .all)),
            ("FUTURES 0", .futures(limit: .mostRecent(0))),
            ("LATEST", .latest),
            ("RESULT 3f2b", .result(id: "3f2b")),
            ("WAIT 3f2b", .wait(id: "3f2b", timeout: nil)),
            ("WAIT 3f2b 2.5", .wait(id: "3f2b", timeout: 2.5)),
            ("CANCEL abc", .cancel(id: "abc")),
            ("LIST", .list),
            ("CLEAN", .clean(olderThan: nil)),
            ("clean 3600", .clean(olderThan: 3600)),
            ("SHUTDOWN", .shutdown(wait: true)),
            ("SHUTDOWN wait", .shutdown(wait: true)),
            ("SHUTDOWN nowait", .shutdown(wait: false)),
            ("shutdown NO-WAIT", .shutdown(wait: false)),
            ("HELP", .help),
        ])
    func parses(line: String, expected: Request) throws {
        #expect(try Request(parsing: line) == expected)
    }

    @Test(
        "invalid lines are refused with the code that says why",
        arguments: [
            ("", ErrorCode.badRequest),
            ("   ", .badRequest),
            ("FROB", .unknownVerb),
            ("PING extra", .badRequest),
            ("SUBMIT", .badRequest),
            ("SUBMIT in=10m", .badRequest),
            ("SUBMIT in=never noop", .badRequest),
            ("CLEAN -1", .badRequest),
            ("CLEAN soon", .badRequest),
            ("CLEAN 1 2", .badRequest),
            ("SUBMIT echo \"unterminated", .badRequest),
            ("SUBMIT echo \"bad \\q escape\"", .badRequest),
            ("SUBMIT echo \"a\u{0}b\"", .badRequest),
            ("SUBMIT echo a\u{0}b", .badRequest),
            ("PI\u{0}NG", .badRequest),
            ("TASKS -1", .badRequest),
            ("TASKS many", .badRequest),
            ("TASKS 1 2", .badRequest),
            ("RESULT", .badRequest),
            ("RESULT a b", .badRequest),
            ("WAIT", .badRequest),
            ("WAIT id soon", .badRequest),
            ("WAIT id -1", .badRequest),
            ("WAIT id nan", .badRequest),
            ("WAIT id 1 2", .badRequest),
            ("CANCEL", .badRequest),
            ("SHUTDOWN later", .badRequest),
            ("STATUS now", .badRequest),
        ])
    func refuses(line: String, code: ErrorCode) {
        #expect { try Request(parsing: line) } throws: { ($0 as? ProtocolError)?.code == code }
    }

    @Test("an unknown verb's error lists the verbs")
    func unknownVerbListsVerbs() {
        #expect { try Request(parsing: "FROB") } throws: { error in
            let message = (error as? ProtocolError)?.message ?? ""
            return message.contains("FROB") && message.contains("SUBMIT") && message.contains("SHUTDOWN")
        }
    }

    @Test("formatting then parsing gives back the same request, for many random requests")
    func roundTrip() throws {
        var generator = SplitMix64(seed: 0x5eed)
        for _ in 0..<5000 {
            let request = randomRequest(&generator)
            #expect(try Request(parsing: request.line) == request, "line: \(request.line)")
        }
    }

    @Test("a formatted request is one line")
    func formattedIsOneLine() {
        let request = Request.submit(task: "echo", arguments: ["line\nbreak", "carriage\rreturn"])
        #expect(!request.line.contains("\n") && !request.line.contains("\r"))
    }

    private func randomRequest(_ generator: inout SplitMix64) -> Request {
        switch generator.next() % 12 {
        case 0: return .ping
        case 1:
            // A task name never holds "=": that is what tells the options before it apart.
            let task = String(randomWord(&generator, allowEmpty: false).map { $0 == "=" ? "_" : $0 })
            let timing: SubmitOptions.Timing? =
                switch generator.next() % 3 {
                case 0: nil
                case 1: .after(.milliseconds(Int64(generator.next() % 1_000_000) + 1))
                default: .at(Timestamp(year: 2026, month: 12, day: 1, hour: Int(generator.next() % 24), minute: 30, offsetSeconds: 3600))
                }
            return .submit(
                task: task, arguments: (0..<(generator.next() % 5)).map { _ in randomWord(&generator, allowEmpty: true) },
                options: SubmitOptions(timing: timing))
        case 2: return .status
        case 3: return .tasks(limit: generator.next() % 2 == 0 ? .all : .mostRecent(Int(generator.next() % 1000)))
        case 4: return .futures(limit: generator.next() % 2 == 0 ? .all : .mostRecent(Int(generator.next() % 1000)))
        case 5: return .latest
        case 6: return .result(id: randomWord(&generator, allowEmpty: false))
        case 7: return .wait(id: randomWord(&generator, allowEmpty: false), timeout: generator.next() % 2 == 0 ? nil : Double(generator.next() % 10_000) / 100)
        case 8: return .cancel(id: randomWord(&generator, allowEmpty: false))
        case 9: return .list
        case 10: return .shutdown(wait: generator.next() % 2 == 0)
        default: return .help
        }
    }

    /// Words mixing plain letters with the characters that need quoting.
    private func randomWord(_ generator: inout SplitMix64, allowEmpty: Bool) -> String {
        let alphabet: [Character] = Array("abcXYZ019=-_/.") + [" ", "\t", "\"", "\\", "\n", "\r", "é", "💡", "\u{1}"]
        let length = Int(generator.next() % 8) + (allowEmpty ? 0 : 1)
        return String((0..<length).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] })
    }
}
