import Foundation
import PyBackgroundTesting
import Testing

@testable import PyBackground

@Suite("BlockingScheduler")
struct BlockingSchedulerTests {
    @Test("start blocks its caller until a task shuts the scheduler down")
    func startBlocksUntilShutdownFromATask() throws {
        let scheduler = BlockingScheduler(maxWorkers: 2)
        let ticks = Counter()
        let id = try scheduler.start(
            { (rounds: Int) in
                for _ in 0..<rounds { ticks.increment() }
                scheduler.shutdown(wait: false)
            }, args: 3)
        // Reaching this line means start returned, which it may only do once stopped.
        #expect(scheduler.stopped)
        #expect(ticks.count == 3)
        #expect(scheduler.latestID == id)
        #expect(scheduler.awaitTermination(timeout: .seconds(30)))
        #expect(scheduler.futures[id]?.state == .finished)
    }

    @Test("start blocks until another thread shuts the scheduler down")
    func startBlocksUntilShutdownFromAnotherThread() throws {
        let scheduler = BlockingScheduler(maxWorkers: 1)
        let started = Counter()
        let returned = Counter()
        let caller = Thread {
            _ = try? scheduler.start({ started.increment() })
            returned.increment()
        }
        caller.start()
        #expect(started.wait(until: 1))
        #expect(!returned.wait(until: 1, timeout: .milliseconds(50)), "start returned before shutdown")
        scheduler.shutdown(wait: true)
        #expect(returned.wait(until: 1))
    }
}
