import Foundation
import PyBackgroundTesting
import Testing

@testable import PyBackground

@Suite("Tasks started to run later")
struct ScheduledTaskTests {
    static let start = Date(timeIntervalSince1970: 1_767_225_600)

    @Test("a task started for later waits in the tables, scheduled, holding no worker, and runs when the clock gets there")
    func waitsThenRuns() throws {
        let clock = ManualClock(now: Self.start)
        let scheduler = BackgroundScheduler(maxWorkers: 1, clock: clock)
        defer { scheduler.shutdown(wait: true) }
        let ran = Counter()
        let later = try scheduler.start(after: .seconds(600), name: "later") { ran.increment() }
        let future = try #require(scheduler.futures[later])
        #expect(future.state == .scheduled && scheduler.tasks[later]?.runAt == Self.start.addingTimeInterval(600))
        #expect(scheduler.statistics.scheduled == 1 && scheduler.statistics.pending == 0)
        // The one worker is free meanwhile: a task started now runs now.
        let now = try scheduler.start { 42 }
        #expect(scheduler.futures[now]!.wait(timeout: .seconds(30)) && ran.count == 0)
        clock.advance(by: .seconds(599))
        #expect(future.state == .scheduled)
        clock.advance(by: .seconds(1))
        #expect(ran.wait(until: 1))
        #expect(future.wait(timeout: .seconds(30)) && future.state == .finished)
        scheduler.shutdown(wait: true)  // a worker counts a task as finished just after its future ends
        #expect(scheduler.statistics.scheduled == 0 && scheduler.statistics.finished == 2)
    }

    @Test("a scheduled task can be cancelled; it never runs, and the counts say so")
    func cancelWhileScheduled() throws {
        let clock = ManualClock(now: Self.start)
        let scheduler = BackgroundScheduler(maxWorkers: 1, clock: clock)
        defer { scheduler.shutdown(wait: true) }
        let ran = Counter()
        let id = try scheduler.start(at: Self.start.addingTimeInterval(60)) { ran.increment() }
        let future = try #require(scheduler.futures[id])
        #expect(future.cancel() && future.state == .cancelled)
        #expect(scheduler.statistics.scheduled == 0 && scheduler.statistics.cancelled == 1 && scheduler.statistics.pending == 0)
        clock.advance(by: .seconds(120))
        let after = try scheduler.start(at: Self.start.addingTimeInterval(121)) { ran.increment() }
        clock.advance(by: .seconds(1))
        #expect(scheduler.futures[after]!.wait(timeout: .seconds(30)))
        #expect(ran.count == 1)  // only the second
    }

    @Test("a time already past runs at once; shutdown cancels those still waiting; a later start after shutdown is refused")
    func pastTimesAndShutdown() throws {
        let clock = ManualClock(now: Self.start)
        let scheduler = BackgroundScheduler(maxWorkers: 1, clock: clock)
        let past = try scheduler.start(at: Self.start.addingTimeInterval(-5)) { 1 }
        #expect(scheduler.futures[past]!.wait(timeout: .seconds(30)))
        let waiting = try scheduler.start(after: .seconds(3600)) { 2 }
        scheduler.shutdown(wait: true)
        #expect(scheduler.futures[waiting]?.state == .cancelled)
        #expect(throws: SchedulerError.self) { try scheduler.start(after: .seconds(1)) { 3 } }
    }

    @Test("many scheduled tasks run in time order, each once")
    func manyInTimeOrder() throws {
        let clock = ManualClock(now: Self.start)
        let scheduler = BackgroundScheduler(maxWorkers: 1, clock: clock)
        defer { scheduler.shutdown(wait: true) }
        let order = Log<Int>()
        let done = Counter()
        var random = SplitMix64(seed: 16)
        var offsets: [Int] = []
        for index in 0..<300 {
            let offset = Int.random(in: 1...1000, using: &random) * 1000 + index  // distinct times
            offsets.append(offset)
            try scheduler.start(at: Self.start.addingTimeInterval(Double(offset))) {
                order.append(offset)
                done.increment()
            }
        }
        #expect(scheduler.statistics.scheduled == 300)
        clock.advance(by: .seconds(2_000_000))
        #expect(done.wait(until: 300))
        scheduler.shutdown(wait: true)  // every body returned; now every future has ended too
        #expect(order.all == offsets.sorted())
        #expect(scheduler.statistics.scheduled == 0 && scheduler.statistics.finished == 300)
    }
}
