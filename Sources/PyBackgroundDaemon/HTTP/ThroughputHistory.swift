import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Tasks ended per minute over the last hour, by outcome: the dashboard's chart. Counted with
/// atomics, from every worker at once: a slot is claimed for its minute by the first end in it.
/// An end racing the claim of a new minute may be counted in neither (the chart is a picture,
/// the metrics' counters are exact).
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

    private final class Slot: Sendable {
        let minute = Atomic<Int>(-1)
        let finished = Atomic<Int>(0)
        let failed = Atomic<Int>(0)
        let cancelled = Atomic<Int>(0)
    }

    private let slots = (0..<ThroughputHistory.minutes).map { _ in Slot() }

    /// Counts an end at `date`.
    func record(_ outcome: String, at date: Date) {
        let minute = Int(date.timeIntervalSince1970 / 60)
        let slot = slots[minute % Self.minutes]
        let seen = slot.minute.load(ordering: .acquiring)
        if seen != minute {
            guard seen < minute else { return }  // a late end of a minute already over
            if slot.minute.compareExchange(expected: seen, desired: minute, ordering: .acquiringAndReleasing).exchanged {
                slot.finished.store(0, ordering: .relaxed)
                slot.failed.store(0, ordering: .relaxed)
                slot.cancelled.store(0, ordering: .relaxed)
            }
        }
        switch outcome {
        case "finished": slot.finished.add(1, ordering: .relaxed)
        case "failed", "interrupted": slot.failed.add(1, ordering: .relaxed)
        default: slot.cancelled.add(1, ordering: .relaxed)
        }
    }

    /// The last hour, oldest first, one entry per minute (zero counts included), ending with the
    /// minute of `now`.
    func lastHour(now: Date = Date()) -> [Minute] {
        let current = Int(now.timeIntervalSince1970 / 60)
        return ((current - Self.minutes + 1)...current).map { minute in
            let slot = slots[minute % Self.minutes]
            guard slot.minute.load(ordering: .acquiring) == minute else { return Minute(at: Double(minute * 60)) }
            return Minute(
                at: Double(minute * 60), finished: slot.finished.load(ordering: .relaxed), failed: slot.failed.load(ordering: .relaxed),
                cancelled: slot.cancelled.load(ordering: .relaxed))
        }
    }
}
