#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Fires every `period`, counted from `start`: at start, start + period, start + 2 × period, …
/// Firings keep to that grid whatever the lateness of one run, so they do not drift.
///
/// ```swift
/// let everyFiveMinutes = IntervalSchedule(every: .seconds(300), startingAt: Date())
/// ```
public struct IntervalSchedule: Hashable, Sendable, CustomStringConvertible {
    /// The time between firings (at least a millisecond).
    public let period: Duration
    /// The first firing; later ones are whole periods after it.
    public let start: Date

    /// An interval of `period` (at least a millisecond) whose first firing is `start`.
    public init(every period: Duration, startingAt start: Date) {
        self.period = max(period, .milliseconds(1))
        self.start = start
    }

    public var description: String { "every \(period) from \(start)" }

    /// The first firing strictly after `date`.
    public func nextFire(after date: Date) -> Date {
        guard date >= start else { return start }
        let seconds = period.secondsAsDouble
        let elapsed = date.timeIntervalSince(start)
        var count = (elapsed / seconds).rounded(.down) + 1
        // Floating point may land a hair before `date`; a grid point is never returned twice.
        while start.addingTimeInterval(count * seconds) <= date { count += 1 }
        return start.addingTimeInterval(count * seconds)
    }
}

extension Duration {
    /// The duration in seconds, as a Double (for `Date` arithmetic; the daemon uses it too).
    package var secondsAsDouble: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
