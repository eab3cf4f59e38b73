import Foundation
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

    /// `start` appends to the tables and leaves the id index to the first lookup; every other
    /// way in (a chosen id, a removal, a count) must see those tasks as if they were indexed.
    @Test("tasks started under fresh ids are found, counted, refused as duplicates and removed, whatever mix of calls came between")
    func idsStartedWithoutIndexingStayFindable() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 2)
        defer { scheduler.shutdown() }
        var generator = SplitMix64(seed: 20_261_207)
        var live: [TaskID] = []
        var removed: Set<TaskID> = []
        for _ in 0..<3000 {
            switch Int.random(in: 0..<20, using: &generator) {
            case 0..<10:
                live.append(try scheduler.start({}))
            case 10..<12:
                let record = TaskRecord(id: scheduler.newTaskID(), name: "chosen", args: [], kwargs: [], submittedAt: Date())
                live.append(try scheduler.start(record) { _ in () }.id)
            case 12..<14:
                guard let taken = live.randomElement(using: &generator) else { continue }
                let copy = TaskRecord(id: taken, name: "copy", args: [], kwargs: [], submittedAt: Date())
                #expect(throws: SchedulerError.self) { try scheduler.start(copy) { _ in () } }
            case 14..<17:
                guard let wanted = live.randomElement(using: &generator) else { continue }
                #expect(scheduler.futures[wanted]?.id == wanted)
            case 17:
                #expect(scheduler.futures.count == live.count)
            default:
                // No lookup first: the removal itself must find a task not yet indexed.
                guard let chosen = live.randomElement(using: &generator) else { continue }
                let gone = scheduler.removeEnded([chosen])
                #expect(gone == [chosen] || gone.isEmpty)
                if gone == [chosen] {
                    live.removeAll { $0 == chosen }
                    removed.insert(chosen)
                }
            }
        }
        #expect(scheduler.futures.ids == live)
        #expect(live.allSatisfy { scheduler.futures[$0]?.id == $0 })
        #expect(removed.allSatisfy { scheduler.futures[$0] == nil })
    }
}
