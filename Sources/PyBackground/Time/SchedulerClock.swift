#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Where a scheduler reads the time of day for its schedules, and how its timer waits for the
/// next one: ``SystemClock`` in a program, ``ManualClock`` in a test that moves time by hand, so
/// that a test of a daily schedule does not wait a day.
public protocol SchedulerClock: Sendable {
    /// The time of day now.
    var now: Date { get }

    /// How long a timer waiting for `deadline` may block before it reads ``now`` again; nil: until
    /// the clock calls the handler given to ``onChange(_:)``.
    func longestWait(until deadline: Date) -> Duration?

    /// Registers `handler`, to be called whenever the clock's time moves other than by running
    /// (a manual clock advanced by a test). The system clock never calls it.
    func onChange(_ handler: @escaping @Sendable () -> Void)
}
