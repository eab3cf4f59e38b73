import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Tasks ended per minute over the last hour, by outcome: the dashboard's chart.
final class ThroughputHistory: Sendable {
    /// One minute's counts.
    struct Minute: Codable, Hashable, Sendable {
        /// The minute's start, seconds since the epoch.
        var at: Double
        var finished = 0
        var failed = 0
        var cancelled = 0
    }

    static let minutes = 60
    private let slots = Mutex([Minute?](repeating: nil, count: ThroughputHistory.minutes))

    /// Counts an end at `date`.
    func record(_ outcome: String, at date: Date) {
        let minute = Int(date.timeIntervalSince1970 / 60)
        slots.withLock { slots in
            let index = minute % Self.minutes
            if slots[index]?.at != Double(minute * 60) { slots[index] = Minute(at: Double(minute * 60)) }
            switch outcome {
            case "finished": slots[index]!.finished += 1
            case "failed", "interrupted": slots[index]!.failed += 1
            default: slots[index]!.cancelled += 1
            }
        }
    }

    /// The last hour, oldest first, one entry per minute (zero counts included), ending with the
    /// minute of `now`.
    func lastHour(now: Date = Date()) -> [Minute] {
        let current = Int(now.timeIntervalSince1970 / 60)
        let kept = slots.withLock { $0 }
        return ((current - Self.minutes + 1)...current).map { minute in
            let slot = kept[minute % Self.minutes]
            return slot?.at == Double(minute * 60) ? slot! : Minute(at: Double(minute * 60))
        }
    }
}
