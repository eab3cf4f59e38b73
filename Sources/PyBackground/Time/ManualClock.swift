import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A clock that moves only when told: a test advances it by a minute, a day or a DST change and
/// the schedules fire at once, as they would have over that time.
///
/// ```swift
/// let clock = ManualClock(now: Date(timeIntervalSince1970: 1_800_000_000))
/// let scheduler = BackgroundScheduler(maxWorkers: 1, clock: clock)
/// let daily = try scheduler.cron(CronExpression("0 3 * * *"), timeZone: .gmt) { backUp() }
/// clock.advance(by: .seconds(86_400))     // one firing, at 03:00
/// ```
public final class ManualClock: SchedulerClock {
    private let time: Mutex<Date>
    private let handlers = Mutex<[@Sendable () -> Void]>([])

    /// A clock that reads `now` until moved.
    public init(now: Date) {
        time = Mutex(now)
    }

    public var now: Date { time.withLock { $0 } }

    /// Moves the clock forward (or back, with a negative duration) and tells the timers.
    public func advance(by duration: Duration) {
        set(to: now.addingTimeInterval(duration.secondsAsDouble))
    }

    /// Sets the clock to `date` and tells the timers.
    public func set(to date: Date) {
        time.withLock { $0 = date }
        for handler in handlers.withLock({ $0 }) { handler() }
    }

    public func longestWait(until deadline: Date) -> Duration? { nil }

    public func onChange(_ handler: @escaping @Sendable () -> Void) {
        handlers.withLock { $0.append(handler) }
    }
}
