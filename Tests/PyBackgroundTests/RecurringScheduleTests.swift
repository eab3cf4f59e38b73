import Foundation
import PyBackgroundTesting
import Testing

@testable import PyBackground

@Suite("Recurring schedules on a manual clock")
struct RecurringScheduleTests {
    static let start = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01T00:00:00Z

    /// Waits until the schedule's timer has handled the clock's last move: it is set for a time
    /// still to come (or not set at all).
    static func settled(_ schedule: RecurringSchedule, _ clock: ManualClock) -> Bool {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if let next = schedule.nextFire { if next > clock.now { return true } } else { return true }
            sched_yield()
        }
        return false
    }

    @Test("an interval fires once per period as the clock moves, each firing a task of its own")
    func intervalFiresPerPeriod() throws {
        let clock = ManualClock(now: Self.start)
        let scheduler = BackgroundScheduler(maxWorkers: 2, clock: clock)
        defer { scheduler.shutdown(wait: true) }
        let ran = Counter()
        let schedule = try scheduler.every(.seconds(10), name: "tick") { ran.increment() }
        #expect(schedule.nextFire == Self.start.addingTimeInterval(10))
        clock.advance(by: .seconds(10))
        #expect(ran.wait(until: 1))
        #expect(Self.settled(schedule, clock))
        let first = try #require(schedule.lastTaskID)
        clock.advance(by: .seconds(10))
        #expect(ran.wait(until: 2))
        #expect(Self.settled(schedule, clock))
        #expect(schedule.lastTaskID != first && scheduler.tasks[first]?.name == "tick")
        #expect(schedule.nextFire == Self.start.addingTimeInterval(30))
        #expect(schedule.counts.runs == 2 && schedule.counts.skipped == 0)
    }

    @Test(
        "missed firings follow the misfire policy: once runs one, all runs up to its maximum, skip runs none",
        arguments: [
            (MisfirePolicy.once, 105, 1, 9),
            (.all(maximum: 5), 105, 5, 5),
            (.all(maximum: 50), 105, 10, 0),
            (.skip, 105, 0, 10),
            (.skip, 100, 1, 9),  // the last firing is on time: it runs
        ])
    func misfirePolicies(policy: MisfirePolicy, advance: Int, runs: Int, skipped: Int) throws {
        let clock = ManualClock(now: Self.start)
        let scheduler = BackgroundScheduler(maxWorkers: 2, clock: clock)
        defer { scheduler.shutdown(wait: true) }
        let ran = Counter()
        let schedule = try scheduler.every(.seconds(10), misfire: policy) { ran.increment() }
        clock.advance(by: .seconds(Int64(advance)))
        #expect(Self.settled(schedule, clock))
        #expect(ran.wait(until: runs))
        #expect(schedule.counts.runs == runs && schedule.counts.skipped == skipped)
        #expect(schedule.nextFire == Self.start.addingTimeInterval(110))
    }

    @Test("a cron schedule fires at its wall time in its zone")
    func cronFiresAtWallTime() throws {
        let clock = ManualClock(now: Self.start)
        let scheduler = BackgroundScheduler(maxWorkers: 1, clock: clock)
        defer { scheduler.shutdown(wait: true) }
        let ran = Counter()
        let nightly = try scheduler.cron(CronExpression("0 3 * * *"), timeZone: TimeZone(identifier: "Europe/Berlin")!) { ran.increment() }
        #expect(nightly.nextFire == Self.start.addingTimeInterval(2 * 3600))  // 03:00 CET is 02:00Z
        clock.advance(by: .seconds(3 * 3600))
        #expect(ran.wait(until: 1))
        #expect(Self.settled(nightly, clock))
        #expect(nightly.nextFire == Self.start.addingTimeInterval(26 * 3600))
    }

    @Test("pause stops the firings and resume does not make up the ones missed meanwhile")
    func pauseAndResume() throws {
        let clock = ManualClock(now: Self.start)
        let scheduler = BackgroundScheduler(maxWorkers: 1, clock: clock)
        defer { scheduler.shutdown(wait: true) }
        let ran = Counter()
        let schedule = try scheduler.every(.seconds(10)) { ran.increment() }
        schedule.pause()
        #expect(schedule.isPaused && schedule.nextFire == nil)
        clock.advance(by: .seconds(55))
        schedule.resume()
        #expect(schedule.nextFire == Self.start.addingTimeInterval(60))
        clock.advance(by: .seconds(5))
        #expect(ran.wait(until: 1))
        #expect(Self.settled(schedule, clock))
        #expect(schedule.counts.runs == 1)
    }

    @Test("overlap skip does not fire while the last firing runs; queue starts one when it ends")
    func overlapPolicies() throws {
        for policy in [OverlapPolicy.skip, .queue] {
            let clock = ManualClock(now: Self.start)
            let scheduler = BackgroundScheduler(maxWorkers: 2, clock: clock)
            let gate = Gate()
            let started = Counter()
            let schedule = try scheduler.every(.seconds(10), overlap: policy) {
                started.increment()
                gate.wait()
            }
            clock.advance(by: .seconds(10))
            #expect(started.wait(until: 1))
            #expect(Self.settled(schedule, clock))
            clock.advance(by: .seconds(10))  // due while the first still runs
            #expect(Self.settled(schedule, clock))
            clock.advance(by: .seconds(10))  // and again
            #expect(Self.settled(schedule, clock))
            #expect(started.count == 1, "\(policy)")
            gate.open()
            if policy == .queue {
                #expect(started.wait(until: 2))  // the one queued behind it; the third coalesced into it
            }
            // After the drain: the queued firing is started from the first task's end, on its worker.
            scheduler.shutdown(wait: true)
            #expect(started.count == (policy == .queue ? 2 : 1))
            if policy == .queue {
                #expect(schedule.counts.runs == 2 && schedule.counts.skipped == 1)
            } else {
                #expect(schedule.counts.runs == 1 && schedule.counts.skipped == 2)
            }
        }
    }

    @Test("shutdown ends the schedules: nothing fires after it, and new ones are refused")
    func shutdownEndsSchedules() throws {
        let clock = ManualClock(now: Self.start)
        let scheduler = BackgroundScheduler(maxWorkers: 1, clock: clock)
        let ran = Counter()
        try scheduler.every(.seconds(10)) { ran.increment() }
        scheduler.shutdown(wait: true)
        clock.advance(by: .seconds(100))
        #expect(scheduler.timer.count == 0)
        #expect(ran.count == 0)
        #expect(throws: SchedulerError.self) { try scheduler.every(.seconds(1)) {} }
    }

    @Test("the timer queue runs actions in time order, equal times first come first served, cancelled ones never")
    func timerQueueOrder() {
        let clock = ManualClock(now: Self.start)
        let timer = TimerQueue(clock: clock)
        defer { timer.close() }
        let order = Log<Int>()
        let done = Counter()
        var random = SplitMix64(seed: 7)
        var expected: [(Int, Int)] = []
        var tokens: [Int: Int] = [:]
        for index in 0..<200 {
            let offset = Int.random(in: 1...20, using: &random)
            tokens[index] = timer.schedule(at: Self.start.addingTimeInterval(Double(offset))) {
                order.append(index)
                done.increment()
            }
            expected.append((offset, index))
        }
        let cancelled = Set((0..<200).filter { $0 % 7 == 0 })
        for index in cancelled { timer.cancel(tokens[index]!) }
        clock.advance(by: .seconds(30))
        #expect(done.wait(until: 200 - cancelled.count))
        #expect(order.all == expected.filter { !cancelled.contains($0.1) }.sorted { $0 < $1 }.map(\.1))
    }
}
