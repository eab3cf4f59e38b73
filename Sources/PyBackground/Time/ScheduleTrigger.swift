#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What makes a recurring schedule fire: a fixed interval or a cron expression in a time zone.
public enum ScheduleTrigger: Hashable, Sendable, CustomStringConvertible {
    case interval(IntervalSchedule)
    case cron(CronSchedule)

    /// The first firing strictly after `date`; nil when there is none (a cron expression that
    /// cannot match within 30 years).
    public func nextFire(after date: Date) -> Date? {
        switch self {
        case .interval(let interval): interval.nextFire(after: date)
        case .cron(let cron): cron.nextFire(after: date)
        }
    }

    public var description: String {
        switch self {
        case .interval(let interval): interval.description
        case .cron(let cron): cron.description
        }
    }
}
