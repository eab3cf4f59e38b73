import Foundation
import PyBackground
import PyBackgroundProtocol
import Testing

@testable import PyBackgroundDaemon

@Suite("Task events as the event stream writes them")
struct TaskEventTests {
    static func event(_ kind: TaskEventKind, at: Double, task: String = "backup", queue: String = "default") -> TaskEvent {
        let scheduler = BackgroundScheduler(maxWorkers: 1)
        let id = try! scheduler.start({ () in 1 }, name: task)
        let future = scheduler.futures[id]!
        _ = future.wait(timeout: .seconds(10))
        var event = TaskEvent(kind, future, at: Date(timeIntervalSince1970: at))
        event.queue = queue
        scheduler.shutdown(wait: true)
        return event
    }

    /// The payload with its times rounded to the microsecond and its duration to the
    /// nanosecond, as the hand-written JSON carries them.
    static func rounded(_ payload: TaskEventPayload) -> TaskEventPayload {
        func round(_ value: Double?, _ places: Double) -> Double? { value.map { ($0 * places).rounded() / places } }
        var payload = payload
        payload.at = round(payload.at, 1e6)!
        payload.retryAt = round(payload.retryAt, 1e6)
        payload.runAt = round(payload.runAt, 1e6)
        payload.durationSeconds = round(payload.durationSeconds, 1e9)
        return payload
    }

    @Test(
        "the hand-written JSON of an event is JSONEncoder's payload, times to the microsecond and durations to the nanosecond",
        arguments: [
            { Self.event(.submitted, at: 1_795_572_591) },
            { Self.event(.started, at: 1_795_572_591.72) },
            {
                var event = Self.event(.retrying, at: 1_795_572_591.123456, queue: "io")
                event.attempt = 2
                event.retryAt = Date(timeIntervalSince1970: 1_795_572_600.5)
                return event
            },
            {
                var event = Self.event(.failed, at: 0.1)
                event.error = "exit-status"
                event.durationSeconds = 1.7881393432617188e-05
                return event
            },
            {
                var event = Self.event(.cancelled, at: 1e9, task: "t-1.x_2")
                event.error = "needs \"escaping\"\n"
                return event
            },
            {
                var event = Self.event(.scheduled, at: 1_795_572_591.5)
                event.runAt = Date(timeIntervalSince1970: 1_795_572_999.25)
                return event
            },
            {
                var event = Self.event(.finished, at: 1_795_824_417.9122353)
                event.durationSeconds = 4.887580871582031e-05
                return event
            },
        ] as [@Sendable () -> TaskEvent])
    func jsonMatchesEncoder(make: @Sendable () -> TaskEvent) throws {
        let event = make()
        let decoded = try ProtocolJSON.decode(TaskEventPayload.self, from: event.json)
        #expect(Self.rounded(decoded) == Self.rounded(event.payload))
        #expect(event.json.utf8.count <= event.lineCapacity)
    }

    @Test(
        "numbers are written rounded to their places, without trailing zeros",
        arguments: [
            (1_795_572_591.72, 6, "1795572591.72"), (0, 6, "0"), (1e9, 6, "1000000000"),
            (1.7881393432617188e-05, 9, "0.000017881"), (-2.5, 6, "-2.5"), (-0.000_000_1, 6, "0"),
            (123.000_000_4, 6, "123"), (0.999_999_9, 6, "1"), (1_795_824_417.9122353, 6, "1795824417.912235"),
            (.nan, 6, "0"), (.infinity, 9, "0"), (1e300, 6, "1e+300"), (42, 0, "42"), (18_446_744_073, 9, "18446744073"),
        ] as [(Double, Int, String)])
    func numbers(value: Double, decimals: Int, written: String) {
        #expect(Self.write { $0.write(number: value, decimals: decimals) } == written)
    }

    @Test("every number written reads back within half a unit of its last place")
    func numbersRoundTrip() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let decimals = Int.random(in: 0...9, using: &generator)
            let value = Double.random(in: -2e9...2e9, using: &generator) / Double(Int.random(in: 1...1_000_000, using: &generator))
            let text = Self.write { $0.write(number: value, decimals: decimals) }
            let unit = pow(10, -Double(decimals))
            #expect(abs(Double(text)! - value) <= unit / 2 + value.magnitude.ulp * 4, "\(value) to \(decimals) places: \(text)")
        }
    }

    @Test("integers, ids and strings are written as the encoder writes them", arguments: [Int64.min, -1, 0, 7, 10, 99, Int64.max])
    func integers(value: Int64) {
        #expect(Self.write { $0.write(integer: value) } == String(value))
    }

    @Test("a task id is its 32 hex digits; a string is escaped only when it must be")
    func idsAndStrings() {
        let id = TaskID(high: 0x0123_4567_89AB_CDEF, low: 0xFEDC_BA98_7654_3210)
        #expect(Self.write { $0.write(id: id) } == id.description)
        for text in ["backup", "", "a\"b", "tab\there", "é", "\u{1}"] {
            #expect(Self.write { $0.write(string: text) } == ProtocolJSON.encode(text))
        }
    }

    static func write(_ body: (inout JSONBytesWriter) -> Void) -> String {
        withUnsafeTemporaryAllocation(byteCount: 256, alignment: 1) { bytes in
            var writer = JSONBytesWriter(bytes)
            body(&writer)
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[..<writer.count]), as: UTF8.self)
        }
    }

    @Test("an event read from an ended future carries its duration; a finished one no error")
    func fromFuture() {
        let event = Self.event(.finished, at: 1)
        #expect(event.task == "backup" && event.error == nil && event.durationSeconds != nil)
    }
}
