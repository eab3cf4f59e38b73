import PyBackgroundProtocol
import Testing

@Suite("LOG, FOLLOW and EVENTS requests, and the lines of a stream")
struct StreamingRequestTests {
    @Test(
        "streaming requests parse and print back",
        arguments: [
            ("LOG 3f2a", Request.log(id: "3f2a", streams: .all)),
            ("log 3f2a stream=stderr", .log(id: "3f2a", streams: .stderr)),
            ("FOLLOW a b c", .follow(ids: ["a", "b", "c"], streams: .all)),
            ("FOLLOW stream=stdout a", .follow(ids: ["a"], streams: .stdout)),
            ("EVENTS", .events(EventFilter())),
            (
                "EVENTS task=backup,report event=failed queue=io id=3F",
                .events(EventFilter(tasks: ["backup", "report"], queues: ["io"], idPrefix: "3f", kinds: [.failed]))
            ),
        ])
    func parses(line: String, request: Request) throws {
        let parsed = try Request(parsing: line)
        #expect(parsed == request)
        #expect(try Request(parsing: parsed.line) == request)
        #expect(parsed.isStreaming)
    }

    @Test(
        "bad streaming requests are refused with what is accepted",
        arguments: [
            ("LOG", "LOG id"),
            ("LOG a b", "LOG id"),
            ("LOG a stream=both", "stdout, stderr or all"),
            ("FOLLOW", "FOLLOW takes 1 to 100"),
            ("EVENTS backup", "task=, queue=, id= and event="),
            ("EVENTS event=exploded", "events: submitted, scheduled"),
            ("EVENTS event=lagged", "events: submitted"),
            ("EVENTS id=xyz", "hex digits"),
            ("EVENTS task=", "needs a value"),
            ("EVENTS task=a/b", "not a task name"),
        ])
    func refuses(line: String, expected: String) {
        #expect {
            try Request(parsing: line)
        } throws: { error in
            (error as? ProtocolError).map { $0.code == .badRequest && $0.message.contains(expected) } ?? false
        }
    }

    @Test("a filter with nothing passes every event; each key narrows it")
    func filterMatches() throws {
        let id = "3f2a" + String(repeating: "0", count: 28)
        #expect(EventFilter().matches(.started, id: id, task: "a", queue: "default"))
        let filter = try EventFilter(words: ["task=a,b", "queue=default", "event=started,finished", "id=3f"])
        #expect(filter.matches(.started, id: id, task: "b", queue: "default"))
        #expect(!filter.matches(.failed, id: id, task: "b", queue: "default"))
        #expect(!filter.matches(.started, id: id, task: "c", queue: "default"))
        #expect(!filter.matches(.started, id: id, task: "a", queue: "io"))
        #expect(!filter.matches(.started, id: "00" + id.dropFirst(2), task: "a", queue: "default"))
    }

    @Test(
        "stream lines parse and print back; an ERR line is its error",
        arguments: [
            ("OUT {\"id\":\"a\"}", StreamLine.output("{\"id\":\"a\"}")),
            ("ENDED {}", .ended("{}")),
            ("EVENT {\"event\":\"started\"}", .event("{\"event\":\"started\"}")),
            ("END {}", .end("{}")),
            ("END", .end("{}")),
        ])
    func streamLines(line: String, expected: StreamLine) throws {
        #expect(try StreamLine(parsing: line[...]) == expected)
        #expect(try StreamLine(parsing: expected.line[...]) == expected)
    }

    @Test("an ERR line in a stream throws its code; other lines are refused")
    func streamErrors() {
        #expect {
            try StreamLine(parsing: "ERR shutting-down bye"[...])
        } throws: { error in
            (error as? ProtocolError)?.code == .shuttingDown
        }
        #expect(throws: ProtocolError.self) { try StreamLine(parsing: "OK {}"[...]) }
    }

    @Test("an output piece carries text as text and other bytes as base64, and gives the bytes back")
    func pieces() {
        let text = OutputChunkPayload(id: "a", stream: .stdout, bytes: Array("héllo\n".utf8))
        #expect(text.data == "héllo\n" && text.base64 == nil && text.bytes == Array("héllo\n".utf8))
        let binary = OutputChunkPayload(id: "a", stream: .stderr, bytes: [0xFF, 0x00, 0x41])
        #expect(binary.data == nil && binary.base64 == "/wBB" && binary.bytes == [0xFF, 0x00, 0x41])
    }
}
