#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One row of the durable schedule table: a recurring schedule, how it was declared, and how far
/// its firings have got.
public struct StoredSchedule: Sendable, Hashable {
    /// Where a schedule came from: the config file (reconciled at start and reload) or a client.
    public enum Origin: String, Sendable, Hashable {
        case config
        case runtime
    }

    /// Unique among schedules.
    public var name: String
    /// The definition as the words of `SCHEDULE ADD` after the name (JSON array of strings): the
    /// host parses them back with the same rules a client's request has.
    public var definition: String
    public var origin: Origin
    public var paused: Bool
    /// When it was first stored: an interval without a start keeps its grid from here.
    public var createdAt: Date
    /// The latest tick consumed (run or let pass); the next firing is the first tick after it.
    /// nil: none yet, the schedule fires from `createdAt` on.
    public var lastTick: Date?

    public init(name: String, definition: String, origin: Origin, paused: Bool = false, createdAt: Date, lastTick: Date? = nil) {
        self.name = name
        self.definition = definition
        self.origin = origin
        self.paused = paused
        self.createdAt = createdAt
        self.lastTick = lastTick
    }
}
