#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What one wake-up of a recurring schedule decided: the ticks (planned firing times) that were
/// due, which of them run under the ``MisfirePolicy``, and the latest due tick, through which all
/// are consumed whether they ran or not.
public struct ScheduleFiring: Hashable, Sendable {
    /// The ticks that run, oldest first: each gets one task.
    public let ticks: [Date]
    /// The latest tick due; the next firing is the first tick after it.
    public let consumedThrough: Date
    /// Due ticks that do not run (missed past their grace, and let pass by the policy).
    public let passed: Int

    public init(ticks: [Date], consumedThrough: Date, passed: Int) {
        self.ticks = ticks
        self.consumedThrough = consumedThrough
        self.passed = passed
    }

    /// Every tick from `firstDue` up to `now` + `lookahead` is due (at most 100,000 are counted);
    /// the latest is on time if it is not more than ``RecurringSchedule/misfireGrace`` before
    /// `now`, the others are missed. `misfire` says how many run: the latest ones. A lookahead
    /// lets a host write a tick's task shortly before the tick, to wait for it.
    public static func plan(
        trigger: ScheduleTrigger, firstDue: Date, now: Date, lookahead: Double = 0, misfire: MisfirePolicy
    ) -> ScheduleFiring {
        var due: [Date] = [firstDue]
        var cursor = firstDue
        let horizon = now.addingTimeInterval(lookahead)
        while let next = trigger.nextFire(after: cursor), next <= horizon, due.count < 100_000 {
            due.append(next)
            cursor = next
        }
        let onTime = now.timeIntervalSince(due.last!) <= RecurringSchedule.misfireGrace.secondsAsDouble
        let runs = misfire.runs(missed: due.count - (onTime ? 1 : 0), onTime: onTime)
        return ScheduleFiring(ticks: Array(due.suffix(runs)), consumedThrough: due.last!, passed: due.count - runs)
    }
}
