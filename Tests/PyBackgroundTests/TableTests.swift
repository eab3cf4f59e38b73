import PyBackgroundTesting
import Testing

@testable import PyBackground

@Suite("Task and future tables")
struct TableTests {
    @Test("a view is bounded when taken: later tasks are not in it")
    func viewIsBounded() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 1)
        defer { scheduler.shutdown() }
        let first = try scheduler.start({})
        let view = scheduler.futures
        let second = try scheduler.start({})
        #expect(view.count == 1)
        #expect(view[first] != nil)
        #expect(view[second] == nil)
        #expect(view.ids == [first])
        #expect(scheduler.futures.count == 2)
    }

    @Test("iteration and recent(_:) follow start order")
    func orderedIteration() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 2)
        defer { scheduler.shutdown() }
        let ids = try (0..<50).map { index in try scheduler.start({ (i: Int) in i }, args: index) }
        #expect(scheduler.tasks.map(\.key) == ids)
        #expect(scheduler.tasks.map { $0.value.args[0] as? Int } == Array(0..<50))
        #expect(scheduler.futures.recent(3).map(\.key) == Array(ids.suffix(3)))
        #expect(scheduler.futures.recent(0).isEmpty)
        #expect(scheduler.futures.recent(500).count == 50)
    }

    @Test("without a bound every ended task is kept, as in the seed")
    func unboundedByDefault() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 2)
        for _ in 0..<1000 { try scheduler.start({}) }
        scheduler.shutdown(wait: true)
        #expect(scheduler.keepFinished == nil)
        #expect(scheduler.futures.count == 1000 && scheduler.tasks.count == 1000)
    }

    @Test("keepFinished keeps only the newest ended tasks")
    func retentionBound() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 1, keepFinished: 10)
        let ids = try (0..<100).map { _ in try scheduler.start({}) }
        scheduler.shutdown(wait: true)
        #expect(scheduler.futures.ids == Array(ids.suffix(10)))
        #expect(scheduler.tasks[ids[0]] == nil)
        #expect(scheduler.statistics.submitted == 100 && scheduler.statistics.finished == 100)
    }

    @Test("retention never drops a task that has not ended, however long it runs")
    func retentionKeepsRunningTasks() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 2, keepFinished: 0)
        let gate = Gate()
        let started = Counter()
        let longRunning = try scheduler.start({
            started.increment()
            gate.wait()
        })
        #expect(started.wait(until: 1))
        let done = Counter()
        for _ in 0..<5000 { try scheduler.start({ done.increment() }) }
        #expect(done.wait(until: 5000))
        // The ended tasks go; the running one stays, and so does its place at the head of the order.
        let remaining = scheduler.futures.ids
        #expect(remaining.first == longRunning)
        gate.open()
        scheduler.shutdown(wait: true)
        #expect(scheduler.futures.isEmpty)
    }

    @Test("removeEnded keeps latestID; restoreLatestID brings back one no longer in the tables; a new start replaces it")
    func latestIDOutlivesItsTask() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 1)
        defer { scheduler.shutdown() }
        let id = try scheduler.start({})
        _ = try scheduler.futures[id]?.result()
        #expect(scheduler.removeEnded() == [id])
        #expect(scheduler.latestID == id)

        let restarted = BackgroundScheduler(maxWorkers: 1)
        defer { restarted.shutdown() }
        restarted.restoreLatestID(id)
        #expect(restarted.latestID == id && restarted.futures.isEmpty)
        let next = try restarted.start({})
        #expect(restarted.latestID == next)
    }
}
