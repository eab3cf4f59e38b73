import PyBackgroundProtocol
import Testing

@Suite("Response lines and payloads")
struct ResponseTests {
    @Test(
        "reply lines parse",
        arguments: [
            ("OK {\"id\":\"ab\"}", Response.ok("{\"id\":\"ab\"}")),
            ("OK", .ok("{}")),
            ("OK {}\r", .ok("{}")),
            ("ERR unknown-task no task named \"x\"", .error(.unknownTask, "no task named \"x\"")),
            ("ERR timed-out", .error(.timedOut, "")),
            ("ERR bad-request  two spaces", .error(.badRequest, " two spaces")),
        ])
    func parses(line: String, expected: Response) throws {
        #expect(try Response(parsing: line) == expected)
    }

    @Test("lines that are not replies are refused", arguments: ["", "HELLO", "OKAY", "ERR", "ERR "])
    func refuses(line: String) {
        #expect(throws: ProtocolError.self) { try Response(parsing: line) }
    }

    @Test("format then parse gives back the same reply")
    func roundTrip() throws {
        let replies: [Response] = [
            .ok("{}"), .ok("{\"a\":[1,2,{\"b\":null}]}"), .error(.queueFull, "100 waiting"),
            .error(.internal, ""), .error(ErrorCode("future-code"), "kept as it is: ü 💡 \"quoted\""),
        ]
        for reply in replies {
            #expect(try Response(parsing: reply.line) == reply)
        }
    }

    @Test("an error message with line breaks still makes one line")
    func messageLineBreaks() throws {
        let line = Response.error(.internal, "first\nsecond\r\nthird").line
        #expect(!line.contains("\n") && !line.contains("\r"))
        #expect(try Response(parsing: line) == .error(.internal, "first second third"))
    }

    @Test(
        "a lone carriage return is shown as \\u{D}; a line break (LF or CRLF) is a space",
        arguments: [
            ("\rPING", "\\u{D}PING"),
            ("a\r", "a\\u{D}"),
            ("a\r\rb", "a\\u{D}\\u{D}b"),
            ("a\r\r\nb", "a\\u{D} b"),
            ("a\nb\r\nc", "a b c"),
        ])
    func carriageReturns(message: String, shown: String) {
        #expect(Response.error(.unknownVerb, message).line == "ERR unknown-verb \(shown)")
    }

    @Test("control characters a client sent are written escaped in an error message, not raw")
    func messageControlCharacters() throws {
        let line = Response.error(.unknownVerb, "unknown verb \"\u{1B}[2J\u{7}x\"").line
        #expect(line == "ERR unknown-verb unknown verb \"\\u{1B}[2J\\u{7}x\"")
        #expect(!line.unicodeScalars.contains { $0.value < 0x20 })
    }

    @Test("payloads encode with snake_case keys and decode back")
    func payloadRoundTrip() throws {
        let status = StatusPayload(
            version: "1", pid: 7, stopped: false, shuttingDown: true, latestID: nil, workers: 2,
            submitted: 4, scheduled: 1, pending: 1, running: 1, finished: 1, failed: 0, cancelled: 0,
            interrupted: 0, retained: 3, connections: 1, uptimeSeconds: 1.5, stateStore: "memory")
        let text = ProtocolJSON.encode(status)
        #expect(text.contains("\"shutting_down\":true") && text.contains("\"uptime_seconds\":1.5"))
        #expect(text.contains("\"state_store\":\"memory\""))
        #expect(try ProtocolJSON.decode(StatusPayload.self, from: text) == status)

        let future = FuturePayload(
            id: "ab", name: "now", args: [1, "x"], kwargs: ["cost": 2.5], state: "failed",
            submittedAt: 1, startedAt: 2, endedAt: 3, durationSeconds: 1, result: nil,
            error: ErrorPayload(code: "exit-status", message: "exited 3", detail: ["exit_status": 3]))
        #expect(try ProtocolJSON.decode(FuturePayload.self, from: ProtocolJSON.encode(future)) == future)
        let scheduled = FuturePayload(
            id: "cd", name: "now", args: [], kwargs: [:], state: "scheduled", submittedAt: 1, runAt: 61,
            startedAt: nil, endedAt: nil, durationSeconds: nil, result: nil, error: nil)
        #expect(ProtocolJSON.encode(scheduled).contains("\"run_at\":61"))
        #expect(try ProtocolJSON.decode(FuturePayload.self, from: ProtocolJSON.encode(scheduled)) == scheduled)
        let submitted = SubmitPayload(id: "cd", task: "now", runAt: 61)
        #expect(submitted.json == #"{"id":"cd","run_at":61,"task":"now"}"# && SubmitPayload(plainJSON: submitted.json) == nil)
        #expect(try ProtocolJSON.decode(SubmitPayload.self, from: submitted.json) == submitted)
        #expect(ProtocolJSON.encode(LatestPayload(latestID: nil)) == "{\"latest_id\":null}")
    }

    @Test(
        "JSON values keep their kinds",
        arguments: [
            (JSONValue.null, "null"), (.bool(true), "true"), (.int(-3), "-3"), (.double(2.5), "2.5"),
            (.string("a\"b\n"), "\"a\\\"b\\n\""), (.array([1, "x"]), "[1,\"x\"]"), (.object(["b": 1, "a": nil]), "{\"a\":null,\"b\":1}"),
        ])
    func jsonValues(value: JSONValue, text: String) throws {
        #expect(value.description == text)
        #expect(try ProtocolJSON.decode(JSONValue.self, from: text) == value)
    }

    @Test(
        "default socket path follows RUNTIME_DIRECTORY, then XDG_RUNTIME_DIR, then /tmp",
        arguments: [
            (["RUNTIME_DIRECTORY": "/run/pybgd"], "/run/pybgd/pybgd.sock"),
            (["RUNTIME_DIRECTORY": "/run/a:/run/b", "XDG_RUNTIME_DIR": "/run/user/5"], "/run/a/pybgd.sock"),
            (["XDG_RUNTIME_DIR": "/run/user/5"], "/run/user/5/pybgd.sock"),
            (["XDG_RUNTIME_DIR": ""], "/tmp/pybgd-1000/pybgd.sock"),
            ([:], "/tmp/pybgd-1000/pybgd.sock"),
        ])
    func defaultSocketPath(environment: [String: String], expected: String) {
        #expect(SocketPath.default(environment: environment, uid: 1000) == expected)
    }
}

@Suite("Submit reply fast path")
struct SubmitPayloadTests {
    @Test(
        "the hand-written JSON equals the encoder's, and falls back for characters that need escaping",
        arguments: [
            ("0123456789abcdef0123456789abcdef", "now"), ("ab", "report.daily-2_x"), ("ab", "quote\"d"), ("ab", "back\\slash"), ("ab", "é"),
        ])
    func matchesEncoder(id: String, task: String) throws {
        let payload = SubmitPayload(id: id, task: task)
        #expect(try ProtocolJSON.decode(SubmitPayload.self, from: payload.json) == payload)
        #expect(payload.json == ProtocolJSON.encode(payload))
    }

    @Test(
        "the hand-written reading gives what the decoder gives, and nil for any text it does not write",
        arguments: [
            (#"{"id":"0123456789abcdef0123456789abcdef","task":"now"}"#, true),
            (#"{"id":"ab","task":"report.daily-2_x"}"#, true),
            (#"{"id":"","task":""}"#, true),
            (#"{"id":"ab","task":"x\",\"y"}"#, false),
            (#"{"id":"a\"b","task":"now"}"#, false),
            (#"{"id":"ab","task":"caf\u00e9"}"#, false),
            (#"{"id":"ab","task":"café"}"#, false),
            (#"{"task":"now","id":"ab"}"#, false),
            (#"{ "id":"ab","task":"now"}"#, false),
            (#"{"id":"ab","task":"now","extra":1}"#, false),
            (#"{"id":"ab","task":"now"} "#, false),
            (#"{"id":"ab"}"#, false),
            (#"{"id":""}"#, false),
            ("", false),
        ])
    func readsWhatItWrites(text: String, plain: Bool) throws {
        let read = SubmitPayload(plainJSON: text)
        #expect((read != nil) == plain)
        if let read {
            #expect(read == (try ProtocolJSON.decode(SubmitPayload.self, from: text)))
            #expect(read.json == text)
        }
    }
}

@Suite("Table replies written row by row")
struct TableReplyTests {
    static let futures = [
        FuturePayload(
            id: "ab", name: "now", args: [1, "x"], kwargs: ["cost": 2.5], state: "failed",
            submittedAt: 1, startedAt: 2, endedAt: 3, durationSeconds: 1, result: nil,
            error: ErrorPayload(code: "exit-status", message: "exited 3", detail: ["exit_status": 3])),
        FuturePayload(
            id: "cd", name: "echo", args: [], kwargs: ["message": "é \"q\" / \u{1B}"], state: "finished",
            submittedAt: 1.25, startedAt: 1.5, endedAt: 2, durationSeconds: 0.5,
            result: ["stdout": "a\nb", "exit_status": 0, "nested": [nil, true, .double(.nan)]], error: nil),
        FuturePayload(
            id: "ef", name: "sleep", args: [], kwargs: [:], state: "pending",
            submittedAt: 9, startedAt: nil, endedAt: nil, durationSeconds: nil, result: nil, error: nil),
    ]

    @Test("FUTURES: the same text as the encoder gives for the whole payload", arguments: [0, 1, 3])
    func futuresMatchTheEncoder(count: Int) throws {
        let rows = Array(Self.futures.prefix(count))
        let text = FuturesPayload.json(futures: rows, total: 7)
        #expect(text == ProtocolJSON.encode(FuturesPayload(futures: rows, total: 7)))
        #expect(try ProtocolJSON.decode(FuturesPayload.self, from: text).futures.map(\.id) == rows.map(\.id))
    }

    @Test("TASKS: the same text as the encoder gives for the whole payload", arguments: [0, 1, 3])
    func tasksMatchTheEncoder(count: Int) {
        let rows = Self.futures.prefix(count).map { TaskPayload(id: $0.id, name: $0.name, args: $0.args, kwargs: $0.kwargs, submittedAt: $0.submittedAt) }
        #expect(TasksPayload.json(tasks: rows, total: 3) == ProtocolJSON.encode(TasksPayload(tasks: rows, total: 3)))
    }
}
