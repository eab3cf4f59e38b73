import Foundation
import Testing

@testable import PyBackground

@Suite("What a schedule's wake-up runs: due ticks under each misfire policy")
struct ScheduleFiringTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)
    static let everyMinute = ScheduleTrigger.interval(IntervalSchedule(every: .seconds(60), startingAt: start))

    @Test(
        "ticks due since the first one, the latest on time within the grace or missed",
        arguments: [
            // (seconds after the first tick it wakes, policy, ticks that run as minutes after start, consumed through, passed)
            (0.2, MisfirePolicy.once, [0], 0, 0), (0.2, .skip, [0], 0, 0), (0.2, .all(maximum: 10), [0], 0, 0),
            (5.0, .once, [0], 0, 0), (5.0, .skip, [], 0, 1), (5.0, .all(maximum: 10), [0], 0, 0),
            (180.5, .once, [3], 3, 3), (180.5, .skip, [3], 3, 3), (180.5, .all(maximum: 10), [0, 1, 2, 3], 3, 0),
            (200.0, .once, [3], 3, 3), (200.0, .skip, [], 3, 4), (200.0, .all(maximum: 2), [2, 3], 3, 2),
        ] as [(Double, MisfirePolicy, [Int], Int, Int)])
    func plan(late: Double, misfire: MisfirePolicy, runs: [Int], through: Int, passed: Int) {
        let firing = ScheduleFiring.plan(trigger: Self.everyMinute, firstDue: Self.start, now: Self.start.addingTimeInterval(late), misfire: misfire)
        #expect(firing.ticks == runs.map { Self.start.addingTimeInterval(Double($0) * 60) })
        #expect(firing.consumedThrough == Self.start.addingTimeInterval(Double(through) * 60))
        #expect(firing.passed == passed)
        #expect(firing.ticks.count + firing.passed == through + 1, "every due tick runs or is let pass")
    }

    @Test("with a lookahead, a tick still to come is due, and the grace is still measured from now")
    func lookahead() {
        let early = ScheduleFiring.plan(
            trigger: Self.everyMinute, firstDue: Self.start, now: Self.start.addingTimeInterval(-0.5), lookahead: 0.5, misfire: .skip)
        #expect(early.ticks == [Self.start] && early.passed == 0)
        // Woken 1.6 s after a tick, half a second ahead of nothing: that tick is missed under skip.
        let late = ScheduleFiring.plan(
            trigger: Self.everyMinute, firstDue: Self.start, now: Self.start.addingTimeInterval(1.6), lookahead: 0.5, misfire: .skip)
        #expect(late.ticks.isEmpty && late.passed == 1)
        // Half a second before the fourth tick, three missed: once runs the coming one, not a missed one.
        let catchUp = ScheduleFiring.plan(
            trigger: Self.everyMinute, firstDue: Self.start, now: Self.start.addingTimeInterval(179.6), lookahead: 0.5, misfire: .once)
        #expect(catchUp.ticks == [Self.start.addingTimeInterval(180)] && catchUp.passed == 3)
    }
}
