import PyBackground
import PyBackgroundProtocol

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// When a submission's timing option says it may start: `in=` from the moment it is accepted,
/// `at=` as written (a wall time without an offset in the daemon's zone). A time already past
/// runs at once, as one that fell due while the daemon was down does.
enum SubmissionTime {
    /// How far ahead a task may be scheduled: the longest `in=` span, for `at=` as well.
    static let horizonSeconds: Double = 3650 * 86_400

    /// The time a timing option names.
    static func runAt(_ timing: SubmitOptions.Timing, now: Date, zone: TimeZone) -> Result<Date, ProtocolError> {
        switch timing {
        case .after(let span):
            return .success(now.addingTimeInterval(span.secondsAsDouble))
        case .at(let time):
            let date = time.date(in: zone)
            guard date.timeIntervalSince(now) <= horizonSeconds else {
                return .failure(ProtocolError(.badRequest, "at=\(time) is more than 3650 days ahead, the furthest a task can be scheduled"))
            }
            return .success(date)
        }
    }
}
