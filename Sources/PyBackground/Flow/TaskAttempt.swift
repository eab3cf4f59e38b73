#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One earlier run of a task that ran more than once: when it started and ended and why it
/// failed. ``Future/attempts`` lists them, oldest first; the latest attempt is the future's own
/// ``Future/startedAt``, ``Future/endedAt`` and ``Future/outcome``.
public struct TaskAttempt: Sendable, CustomStringConvertible {
    /// 1 for the first run.
    public let number: Int
    /// Nil for an attempt whose start was never recorded (its host died first).
    public let startedAt: Date?
    public let endedAt: Date
    /// What it threw (or why it did not end: `interrupted`, `timed-out`).
    public let error: any Error

    public init(number: Int, startedAt: Date?, endedAt: Date, error: any Error) {
        self.number = number
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.error = error
    }

    public var description: String { "attempt \(number): \(error)" }
}
