import PyBackgroundProtocol

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// What `pybgctl watch` shows on a terminal: the counts per state and the most recent tasks, read
/// once from STATUS and FUTURES and then kept current by events.
struct WatchTable {
    struct Row {
        var id: String
        var task: String
        var queue: String
        var state: String
        var since: Double
        var startedAt: Double?
        var endedAt: Double?
        var detail: String
    }

    private var counts: [String: Int]
    private var rows: [String: Row]
    private var lastDraw = 0.0

    static let states = ["scheduled", "waiting", "pending", "running", "retrying", "finished", "failed", "cancelled", "interrupted"]

    /// Reads the counts and the most recent 200 tasks.
    static func load(_ client: DaemonClient) throws -> WatchTable {
        let (status, _) = try client.request(.status, as: StatusPayload.self)
        let (table, _) = try client.request(.futures(limit: .mostRecent(200)), as: FuturesPayload.self)
        var counts: [String: Int] = [:]
        for state in states {
            counts[state] =
                switch state {
                case "scheduled": status.scheduled
                case "waiting": status.waiting
                case "pending": status.pending
                case "running": status.running
                case "retrying": status.retrying
                case "finished": status.finished
                case "failed": status.failed
                case "cancelled": status.cancelled
                default: status.interrupted
                }
        }
        var rows: [String: Row] = [:]
        for future in table.futures {
            rows[future.id] = Row(
                id: future.id, task: future.name, queue: future.flow?.queue ?? "default", state: future.state,
                since: future.endedAt ?? future.startedAt ?? future.submittedAt, startedAt: future.startedAt, endedAt: future.endedAt,
                detail: future.error.map { $0.code } ?? "")
        }
        return WatchTable(counts: counts, rows: rows)
    }

    /// Moves a task to the event's state.
    mutating func apply(_ event: TaskEventPayload) {
        guard let id = event.id else { return }
        let state: String =
            switch event.event {
            case .submitted: "pending"
            default: event.event.rawValue
            }
        let previous = rows[id]?.state ?? (event.event == .started ? "pending" : event.event == .submitted || event.event == .scheduled ? nil : "running")
        if let previous { counts[previous, default: 0] = max(0, counts[previous, default: 0] - 1) }
        counts[state, default: 0] += 1
        var row =
            rows[id]
            ?? Row(id: id, task: event.task ?? "-", queue: event.queue ?? "default", state: state, since: event.at, detail: "")
        row.state = state
        row.since = event.at
        switch event.event {
        case .started:
            row.startedAt = event.at
            row.detail = event.attempt.map { "attempt \($0)" } ?? ""
        case .retrying:
            row.detail = event.error ?? "retrying"
            if let at = event.retryAt { row.detail = "next at \(Clock.local(at).suffix(8))" }
        case .finished, .failed, .cancelled, .interrupted:
            row.endedAt = event.at
            row.detail = event.error ?? ""
        default: break
        }
        rows[id] = row
    }

    /// Draws at most ten times a second.
    mutating func drawIfDue() {
        let now = Date().timeIntervalSince1970
        guard now - lastDraw >= 0.1 else { return }
        lastDraw = now
        draw()
    }

    /// Clears the terminal and draws the counts and the rows that fit: running first, then the
    /// most recently changed.
    func draw() {
        let now = Date().timeIntervalSince1970
        var size = winsize()
        let height = ioctl(1, UInt(TIOCGWINSZ), &size) == 0 && size.ws_row > 0 ? Int(size.ws_row) : 24
        let header = Self.states.compactMap { state in counts[state].flatMap { $0 > 0 ? "\($0) \(state)" : nil } }.joined(separator: ", ")
        var lines = ["pybgd  \(Clock.local(now))  \(header.isEmpty ? "no tasks" : header)", ""]
        let ordered = rows.values.sorted { left, right in
            let leftRunning = left.state == "running"
            let rightRunning = right.state == "running"
            if leftRunning != rightRunning { return leftRunning }
            return left.since > right.since
        }
        let shown = ordered.prefix(max(1, height - 4))
        let short = Output.shortIDs(shown.map(\.id))
        let table = shown.map { row -> [String] in
            let time =
                row.state == "running"
                ? Output.duration(row.startedAt.map { now - $0 })
                : Output.duration(row.endedAt.flatMap { end in row.startedAt.map { end - $0 } })
            return [short[row.id] ?? row.id, row.task, row.queue, row.state, time, row.detail]
        }
        lines += Output.table(["ID", "TASK", "QUEUE", "STATE", "TIME", ""], table)
        Output.screen(lines.joined(separator: "\n"))
    }
}
