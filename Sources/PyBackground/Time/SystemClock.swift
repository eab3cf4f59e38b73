#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The system's time of day. A timer waiting on it wakes at least once a minute to read the time
/// again, so a clock set forward or back (NTP, a suspended machine) delays a firing by a minute at
/// most.
public struct SystemClock: SchedulerClock {
    public init() {}

    public var now: Date { Date() }

    public func longestWait(until deadline: Date) -> Duration? {
        let seconds = min(max(deadline.timeIntervalSinceNow, 0), 60)
        return .nanoseconds(Int64(seconds * 1e9))
    }

    public func onChange(_ handler: @escaping @Sendable () -> Void) {}
}
