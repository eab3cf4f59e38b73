import PyBackground
import Synchronization

/// Which task ends the launcher has the store record, and how many it did since retention ran.
final class EndRecording: Sendable {
    /// From the shutdown timeout on, ends caused by the shutdown itself are not recorded: the rows
    /// stay pending or running, so the next start runs them again (or marks them interrupted).
    let cancellingForShutdown = Atomic<Bool>(false)
    /// Ends recorded since retention last ran: retention skips its write when nothing ended.
    let sinceRetention = Atomic<Int>(0)

    /// Whether the end in `snapshot` is recorded (and counted).
    func shouldRecord(_ snapshot: Future.Snapshot) -> Bool {
        // A task whose time had not come stays scheduled in the store: it runs in the next life.
        if Self.scheduledAtShutdown(snapshot) { return false }
        if cancellingForShutdown.load(ordering: .acquiring) && Self.endedByShutdown(snapshot) { return false }
        sinceRetention.add(1, ordering: .relaxed)
        return true
    }

    private static func scheduledAtShutdown(_ snapshot: Future.Snapshot) -> Bool {
        guard snapshot.state == .cancelled, case .failure(let error as SchedulerError)? = snapshot.outcome else { return false }
        return error.code == .shutDown
    }

    private static func endedByShutdown(_ snapshot: Future.Snapshot) -> Bool {
        switch (snapshot.state, snapshot.outcome) {
        case (.cancelled, _): true
        case (.failed, .failure(let error as TaskFailure)?): error.code == .cancelledAtShutdown
        default: false
        }
    }
}
