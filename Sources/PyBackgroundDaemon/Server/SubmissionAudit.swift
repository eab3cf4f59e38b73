import Logging
import PyBackground
import Synchronization

/// Who submitted what: each accepted submission is logged with the peer's uid and pid.
///
/// A pipelined burst would cost a log line (and a write) per task, three quarters of the daemon's
/// pipelined throughput (measured: 305k/s fell to 70k/s), so accepted ids are gathered per connection and written as one line per read
/// batch, or per ``maxIDsPerLine`` ids; a single submission is a line of its own as usual.
final class SubmissionAudit: Sendable {
    static let maxIDsPerLine = 100

    private let peer: PeerCredentials
    private let logger: Logger
    private let level: Logger.Level
    private let pending = Mutex<[(id: TaskID, task: String)]>([])

    init(peer: PeerCredentials, logger: Logger, level: Logger.Level) {
        self.peer = peer
        self.logger = logger
        self.level = level
    }

    /// An accepted submission (any thread).
    func record(_ id: TaskID, task: String) {
        guard logger.logLevel <= level else { return }
        let full = pending.withLock { pending -> [(id: TaskID, task: String)]? in
            pending.append((id, task))
            guard pending.count >= Self.maxIDsPerLine else { return nil }
            defer { pending.removeAll(keepingCapacity: true) }
            return pending
        }
        if let full { write(full) }
    }

    /// Logs what was gathered: the connection flushes it with its replies, and when it closes.
    func flush() {
        let gathered = pending.withLock { pending -> [(id: TaskID, task: String)] in
            defer { pending.removeAll(keepingCapacity: true) }
            return pending
        }
        if !gathered.isEmpty { write(gathered) }
    }

    private func write(_ submissions: [(id: TaskID, task: String)]) {
        var metadata: Logger.Metadata = ["uid": "\(peer.uid)", "pid": "\(peer.pid)"]
        if submissions.count == 1 {
            metadata["id"] = "\(submissions[0].id)"
            metadata["task"] = "\(submissions[0].task)"
        } else {
            metadata["count"] = "\(submissions.count)"
            metadata["ids"] = "\(TaskID.commaSeparated(submissions.map(\.id)))"
            // One name when the burst is of one task (the usual case), else one per id, in order.
            let tasks = submissions.map(\.task)
            if tasks.allSatisfy({ $0 == tasks[0] }) {
                metadata["task"] = "\(tasks[0])"
            } else {
                metadata["tasks"] = "\(tasks.joined(separator: ","))"
            }
        }
        logger.log(level: level, "submitted", metadata: metadata)
    }
}
