import NIOCore
import PyBackground
import PyBackgroundProtocol

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One state change of one task, as the event stream, the metrics and the dashboard take it.
struct TaskEvent: Sendable {
    var kind: TaskEventKind
    var id: TaskID
    var task: String
    var queue: String
    var at: Date
    var attempt: Int?
    var retryAt: Date?
    var runAt: Date?
    /// The failure's code, for failed and cancelled.
    var error: String?
    /// From the start of the attempt to the end, for an end after a start.
    var durationSeconds: Double?
    /// For the start of a schedule's task: the tick it is for (its lateness is `at - tick`).
    /// Not sent to readers; the metrics take it.
    var scheduleTick: Date?
    /// The schedule of that task.
    var schedule: String?

    /// The event of a future's change to `kind`, read from the future now.
    init(_ kind: TaskEventKind, _ future: Future, at: Date = Date()) {
        self.kind = kind
        self.id = future.id
        self.task = future.record.name
        self.queue = future.record.options.queue ?? "default"
        self.at = at
        switch kind {
        case .started:
            attempt = future.record.hasOptions && future.record.options.retry != nil ? future.attempt : nil
            scheduleTick = future.record.tick
            schedule = future.record.schedule
        case .retrying:
            attempt = future.attempt
            retryAt = future.retryAt
        case .scheduled:
            runAt = future.record.runAt
        case .finished, .failed, .cancelled, .interrupted:
            let snapshot = future.snapshot
            if kind != .finished, case .failure(let failure)? = snapshot.outcome { error = ErrorPayload(failure).code }
            if let started = snapshot.startedAt, let ended = snapshot.endedAt { durationSeconds = ended.timeIntervalSince(started) }
        case .submitted, .lagged:
            break
        }
    }

    /// `submitted` or `scheduled` for a task about to start: made from its record, before the
    /// scheduler has it, so that no worker's `started` can come first.
    init(accepted record: TaskRecord, at: Date = Date()) {
        self.kind = record.runAt == nil ? .submitted : .scheduled
        self.id = record.id
        self.task = record.name
        self.queue = record.options.queue ?? "default"
        self.at = at
        self.runAt = record.runAt
    }

    /// The protocol's payload.
    var payload: TaskEventPayload {
        TaskEventPayload(
            event: kind, id: id.description, task: task, queue: queue, at: at.timeIntervalSince1970, attempt: attempt,
            retryAt: retryAt?.timeIntervalSince1970, runAt: runAt?.timeIntervalSince1970, error: error,
            durationSeconds: durationSeconds)
    }

    /// The payload's JSON, as ``ProtocolJSON`` writes it (keys sorted).
    var json: String {
        var buffer = ByteBufferAllocator().buffer(capacity: 256)
        write(into: &buffer)
        return String(buffer: buffer)
    }

    /// Writes `EVENT <json>` and a line feed, the JSON as ``ProtocolJSON`` writes it, straight into
    /// `buffer`: events are encoded on the thread that publishes them, up to three per task, and
    /// building Strings with JSONEncoder (then by interpolation) was the watched event loop's
    /// largest cost (BENCHMARKS.md, issue 18). Every field is a number, a hex id, a checked name
    /// or an error code; a string that would need escaping goes through the encoder.
    func writeLine(into buffer: inout ByteBuffer) {
        buffer.writeStaticString("EVENT ")
        write(into: &buffer)
        buffer.writeInteger(UInt8(ascii: "\n"))
    }

    private func write(into buffer: inout ByteBuffer) {
        buffer.writeStaticString(#"{"at":"#)
        Self.write(number: at.timeIntervalSince1970, into: &buffer)
        if let attempt {
            buffer.writeStaticString(#","attempt":"#)
            buffer.writeString(String(attempt))
        }
        if let durationSeconds {
            buffer.writeStaticString(#","duration_seconds":"#)
            Self.write(number: durationSeconds, into: &buffer)
        }
        if let error {
            buffer.writeStaticString(#","error":"#)
            Self.write(string: error, into: &buffer)
        }
        buffer.writeStaticString(#","event":""#)
        buffer.writeString(kind.rawValue)
        buffer.writeStaticString(#"","id":""#)
        Self.write(id: id, into: &buffer)
        buffer.writeStaticString(#"","queue":"#)
        Self.write(string: queue, into: &buffer)
        if let retryAt {
            buffer.writeStaticString(#","retry_at":"#)
            Self.write(number: retryAt.timeIntervalSince1970, into: &buffer)
        }
        if let runAt {
            buffer.writeStaticString(#","run_at":"#)
            Self.write(number: runAt.timeIntervalSince1970, into: &buffer)
        }
        buffer.writeStaticString(#","task":"#)
        Self.write(string: task, into: &buffer)
        buffer.writeInteger(UInt8(ascii: "}"))
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// The id's 32 hex digits, as `TaskID.description` spells them, without making a String.
    private static func write(id: TaskID, into buffer: inout ByteBuffer) {
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 32) { bytes in
            for index in 0..<32 {
                let word = index < 16 ? id.high : id.low
                bytes[index] = hexDigits[Int((word >> UInt64(60 - (index % 16) * 4)) & 0xF)]
            }
            return 32
        }
    }

    /// A number as JSONEncoder writes a Double.
    private static func write(number value: Double, into buffer: inout ByteBuffer) {
        if value == value.rounded(), abs(value) < 1e15 {
            buffer.writeString(String(Int64(value)))
        } else {
            buffer.writeString(value.description)
        }
    }

    /// A string as JSONEncoder writes it.
    private static func write(string value: String, into buffer: inout ByteBuffer) {
        if value.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) {
            buffer.writeInteger(UInt8(ascii: "\""))
            buffer.writeString(value)
            buffer.writeInteger(UInt8(ascii: "\""))
        } else {
            buffer.writeString(ProtocolJSON.encode(value))
        }
    }
}
