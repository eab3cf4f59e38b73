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

    /// The payload's JSON, as ``ProtocolJSON`` writes it (keys sorted; times to the microsecond,
    /// durations to the nanosecond).
    var json: String {
        var buffer = ByteBufferAllocator().buffer(capacity: lineCapacity)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: lineCapacity) { bytes in
            var writer = JSONBytesWriter(bytes)
            write(into: &writer)
            return writer.count
        }
        return String(buffer: buffer)
    }

    /// The most bytes ``writeLine(into:)`` writes.
    var lineCapacity: Int {
        // "EVENT ", every key, the id, four numbers and the event's name take under 300.
        320 + JSONBytesWriter.stringCapacity(task) + JSONBytesWriter.stringCapacity(queue)
            + (error.map(JSONBytesWriter.stringCapacity) ?? 0)
    }

    /// Writes `EVENT <json>` and a line feed into memory of ``lineCapacity`` bytes or more.
    /// Events are encoded on the thread that publishes them, up to three per task: JSONEncoder
    /// and String building were the watched event loop's largest cost, then ByteBuffer's
    /// per-call overhead and `Double.description` (BENCHMARKS.md, issue 18). Every field is a
    /// number, a hex id, a checked name or an error code; a string that would need escaping
    /// goes through the encoder.
    func writeLine(into writer: inout JSONBytesWriter) {
        writer.write("EVENT ")
        write(into: &writer)
        writer.write(byte: UInt8(ascii: "\n"))
    }

    private func write(into writer: inout JSONBytesWriter) {
        writer.write(#"{"at":"#)
        writer.write(number: at.timeIntervalSince1970, decimals: 6)
        if let attempt {
            writer.write(#","attempt":"#)
            writer.write(integer: Int64(attempt))
        }
        if let durationSeconds {
            writer.write(#","duration_seconds":"#)
            writer.write(number: durationSeconds, decimals: 9)
        }
        if let error {
            writer.write(#","error":"#)
            writer.write(string: error)
        }
        writer.write(#","event":""#)
        writer.write(raw: kind.rawValue)
        writer.write(#"","id":""#)
        writer.write(id: id)
        writer.write(#"","queue":"#)
        writer.write(string: queue)
        if let retryAt {
            writer.write(#","retry_at":"#)
            writer.write(number: retryAt.timeIntervalSince1970, decimals: 6)
        }
        if let runAt {
            writer.write(#","run_at":"#)
            writer.write(number: runAt.timeIntervalSince1970, decimals: 6)
        }
        writer.write(#","task":"#)
        writer.write(string: task)
        writer.write(byte: UInt8(ascii: "}"))
    }
}
