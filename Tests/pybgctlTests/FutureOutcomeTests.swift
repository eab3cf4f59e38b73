import PyBackgroundProtocol
import Testing

@testable import pybgctl

/// `wait ID` and `result ID` read their reply without JSONDecoder when they can; that reading must
/// give what decoding the reply as a `FuturePayload` gives, and leave to the decoder every reply
/// that is not a plain future's.
@Suite("A future's outcome read without JSONDecoder")
struct FutureOutcomeTests {
    static let id = "0123456789abcdef0123456789abcdef"

    static let commandOutput: JSONValue = ["stdout": "line one\nline \"two\"\n", "stderr": "é\u{1B}[31m\u{0}", "exit_status": 0, "truncated": false]

    /// Futures as the daemon writes them (the encoder's JSON of a `FuturePayload`).
    static let futures: [FuturePayload] = [
        FuturePayload(
            id: id, name: "now", args: [], kwargs: [:], state: "finished", submittedAt: 1_765_000_000.125,
            startedAt: 1_765_000_000.25, endedAt: 1_765_000_000.5, durationSeconds: 0.25, result: "2026-12-07T14:00:00Z", error: nil),
        FuturePayload(
            id: id, name: "echo", args: ["a", 1, 2.5, true, .null, ["x": [1, 2]]], kwargs: ["message": "hello world"], state: "finished",
            submittedAt: 1_765_000_000, runAt: 1_765_000_060, schedule: "nightly", tick: 1_765_000_000, startedAt: 1_765_000_061,
            endedAt: 1_765_000_062, durationSeconds: 1, result: commandOutput, error: nil),
        FuturePayload(
            id: id, name: "noop", args: [], kwargs: [:], state: "finished", submittedAt: 1, startedAt: 2, endedAt: 3, durationSeconds: 1,
            result: .null, error: nil),
        FuturePayload(
            id: id, name: "fail", args: [], kwargs: [:], state: "failed", submittedAt: 1, startedAt: 2, endedAt: 3, durationSeconds: 1,
            result: nil, error: ErrorPayload(code: "exit-status", message: "exited with status 2", detail: commandOutput)),
        FuturePayload(
            id: id, name: "hold", args: [], kwargs: [:], state: "cancelled", submittedAt: 1, startedAt: nil, endedAt: 3, durationSeconds: nil,
            result: nil, error: ErrorPayload(code: "cancelled", message: "cancelled by uid 0")),
        FuturePayload(
            id: id, name: "hold", args: [], kwargs: [:], state: "failed", submittedAt: 1, startedAt: 2, endedAt: 3, durationSeconds: 1,
            result: nil, error: ErrorPayload(code: "task-error", message: "broken", detail: .null)),
        FuturePayload(
            id: id, name: "hold", args: [], kwargs: [:], state: "running", submittedAt: 1, startedAt: 2, endedAt: nil, durationSeconds: 0.5,
            result: nil, error: nil),
        FuturePayload(
            id: id, name: "count", args: [], kwargs: [:], state: "finished", submittedAt: 1, startedAt: 2, endedAt: 3, durationSeconds: 1,
            result: [1, -2, 3.25, 1e-300, 9_007_199_254_740_991, "😀"], error: nil),
    ]

    @Test("every future as the daemon writes it is read without JSONDecoder, and the same as decoded", arguments: 0..<futures.count)
    func plainReadingMatchesDecoding(index: Int) throws {
        var future = Self.futures[index]
        for host in [nil, "host-1"] {
            future.host = host
            let json = ProtocolJSON.encode(future)
            let plain = try #require(FutureOutcome(plainJSON: json), "\(json)")
            let decoded = FutureOutcome(try ProtocolJSON.decode(FuturePayload.self, from: json))
            #expect(plain == decoded, "\(json): \(String(describing: plain.result)) vs \(String(describing: decoded.result))")
        }
    }

    @Test("a future with flow options, attempts or a stop request is left to JSONDecoder, which reads it")
    func futuresWithNestedObjectsAreLeft() throws {
        var future = Self.futures[0]
        future.attempt = 2
        future.attempts = [AttemptPayload(attempt: 1, startedAt: 1, endedAt: 2, error: ErrorPayload(code: "x", message: "y"))]
        var json = ProtocolJSON.encode(future)
        #expect(FutureOutcome(plainJSON: json) == nil)
        #expect(try ProtocolJSON.decode(FuturePayload.self, from: json).attempts?.count == 1)
        // Flow options are keys of the future's own object.
        json = ProtocolJSON.encode(Self.futures[0]).dropLast() + #","queue":"io","priority":5}"#
        #expect(FutureOutcome(plainJSON: json) == nil)
        #expect(try ProtocolJSON.decode(FuturePayload.self, from: json).flow != nil)
    }

    @Test(
        "a reply that is not a future's is left to JSONDecoder, which refuses it too",
        arguments: [
            "", "[]", #"{"id":"x"}"#, "not json",
            #"{"id":1,"name":"n","args":[],"kwargs":{},"state":"finished","submitted_at":1}"#,
            #"{"id":"x","name":"n","args":{},"kwargs":{},"state":"finished","submitted_at":1}"#,
            #"{"id":"x","name":"n","args":[],"kwargs":{},"state":"finished","submitted_at":"1"}"#,
            #"{"id":"x","name":"n","args":[],"kwargs":{},"state":"finished","submitted_at":1,"run_at":"soon"}"#,
            #"{"id":"x","name":"n","args":[],"kwargs":{},"state":"finished","submitted_at":1,"host":7}"#,
            #"{"id":"x","name":"n","args":[],"kwargs":{},"state":"finished","submitted_at":1,"attempt":1.5}"#,
            #"{"id":"x","name":"n","args":[],"kwargs":{},"state":"failed","submitted_at":1,"error":"broken"}"#,
            #"{"id":"x","name":"n","args":[],"kwargs":{},"state":"failed","submitted_at":1,"error":{"code":"c"}}"#,
            #"{"id":"x","name":"n","args":[],"kwargs":{},"state":"finished","submitted_at":1,"priority":"high"}"#,
        ])
    func malformedRepliesAreLeft(json: String) {
        #expect(FutureOutcome(plainJSON: json) == nil)
        #expect((try? ProtocolJSON.decode(FuturePayload.self, from: json)) == nil)
    }
}
