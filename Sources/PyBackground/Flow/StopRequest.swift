#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Why, when and by whom a running task was asked to stop: by a kill (``Future/kill(by:)``) or by
/// its timeout (``TaskOptions/timeout``). A thread cannot be stopped from outside, so the request
/// is cooperative: ``Future/isStopRequested`` turns true, ``Future/sleep(for:)`` and
/// ``Scheduler/sleep(for:)`` wake, and the task's stop handlers run (``Future/onStopRequest(_:)``;
/// a host that runs a process kills it there). A task that goes on anyway stays `running`, and
/// its request shows how long it has ignored it.
public struct StopRequest: Sendable, Hashable, CustomStringConvertible {
    public enum Reason: Sendable, Hashable {
        /// Someone asked; the text says who (a person, a uid, a client).
        case killed(by: String)
        /// It ran longer than its timeout.
        case timedOut(after: Duration)
    }

    public let reason: Reason
    public let requestedAt: Date

    public init(reason: Reason, requestedAt: Date) {
        self.reason = reason
        self.requestedAt = requestedAt
    }

    /// The error the task ends with: ``SchedulerError/Code/killed`` (the task ends `cancelled`)
    /// or ``SchedulerError/Code/timedOut`` (it ends `failed`). A task that notices the request
    /// throws this (``Future/checkStop()`` does).
    public var error: SchedulerError {
        switch reason {
        case .killed(let who): SchedulerError(.killed, "stopped while running: killed by \(who)")
        case .timedOut(let limit): SchedulerError(.timedOut, "stopped: it ran longer than its timeout of \(Self.seconds(limit))")
        }
    }

    /// The state a task asked to stop ends in, whatever its body did after the request.
    public var finalState: FutureState {
        switch reason {
        case .killed: .cancelled
        case .timedOut: .failed
        }
    }

    public var description: String { error.message }

    static func seconds(_ duration: Duration) -> String {
        let seconds = duration.secondsAsDouble
        return seconds == seconds.rounded() ? "\(Int(seconds)) s" : "\(seconds) s"
    }
}
