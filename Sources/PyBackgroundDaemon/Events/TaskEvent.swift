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

    /// The protocol's payload.
    var payload: TaskEventPayload {
        TaskEventPayload(
            event: kind, id: id.description, task: task, queue: queue, at: at.timeIntervalSince1970, attempt: attempt,
            retryAt: retryAt?.timeIntervalSince1970, runAt: runAt?.timeIntervalSince1970, error: error,
            durationSeconds: durationSeconds)
    }

    /// The payload's JSON, as ``ProtocolJSON`` writes it (keys sorted), written directly: an event
    /// is encoded on the event loop for each one of up to three per task, which JSONEncoder made
    /// the largest cost of a watched burst (BENCHMARKS.md). Every field is a number, a hex id, a
    /// checked name or an error code; codes are escaped all the same.
    var json: String {
        var text = #"{"at":\#(Self.number(at.timeIntervalSince1970)),"#
        if let attempt { text += #""attempt":\#(attempt),"# }
        if let durationSeconds { text += #""duration_seconds":\#(Self.number(durationSeconds)),"# }
        if let error { text += #""error":\#(Self.string(error)),"# }
        text += #""event":""# + kind.rawValue + #"","id":""# + id.description + #"","queue":"#
        text += Self.string(queue)
        if let retryAt { text += #","retry_at":\#(Self.number(retryAt.timeIntervalSince1970))"# }
        if let runAt { text += #","run_at":\#(Self.number(runAt.timeIntervalSince1970))"# }
        text += #","task":"# + Self.string(task) + "}"
        return text
    }

    /// A number as JSONEncoder writes a Double.
    private static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    /// A string as JSONEncoder writes it (names and codes need no escaping; any that does goes
    /// through the encoder).
    private static func string(_ value: String) -> String {
        if value.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) {
            return "\"" + value + "\""
        }
        return ProtocolJSON.encode(value)
    }
}
