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
        if cancellingForShutdown.load(ordering: .acquiring) && Self.endedByShutdown(snapshot) { return false }
        sinceRetention.add(1, ordering: .relaxed)
        return true
    }

    private static func endedByShutdown(_ snapshot: Future.Snapshot) -> Bool {
        switch (snapshot.state, snapshot.outcome) {
        case (.cancelled, _): true
        case (.failed, .failure(let error as TaskFailure)?): error.code == .cancelledAtShutdown
        default: false
        }
    }
}
