import Foundation
import PyBackgroundTesting
import Synchronization
import Testing

@testable import PyBackground

@Suite("Scheduler life cycle and task table")
struct SchedulerTests {
    @Test("stopped is true before the first start, false while running, true after shutdown")
    func stoppedFollowsLifeCycle() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 1)
        #expect(scheduler.stopped)
        #expect(scheduler.latestID == nil)
        try scheduler.start({})
        #expect(!scheduler.stopped)
        scheduler.shutdown(wait: true)
        #expect(scheduler.stopped)
    }

    @Test("maxWorkers defaults to the number of active processors")
    func defaultWorkers() {
        #expect(BackgroundScheduler().maxWorkers == ProcessInfo.processInfo.activeProcessorCount)
        #expect(BlockingScheduler().maxWorkers == ProcessInfo.processInfo.activeProcessorCount)
        #expect(BackgroundScheduler(maxWorkers: 3).maxWorkers == 3)
    }

    @Test("start returns the new id, which becomes latestID and keys both tables")
    func startRecordsTask() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 2)
        defer { scheduler.shutdown() }
        let id = try scheduler.start({ (a: Int, b: String) in "\(b)\(a)" }, args: 7, "x", name: "join")
        #expect(scheduler.latestID == id)
        let record = try #require(scheduler.tasks[id])
        #expect(record.id == id && record.name == "join")
        #expect(record.args.count == 2)
        #expect(record.args[0] as? Int == 7 && record.args[1] as? String == "x")
        #expect(record.kwargs.isEmpty)
        #expect(record.description == "join(7, x)")
        let future = try #require(scheduler.futures[id])
        #expect(try future.result(as: String.self, timeout: .seconds(30)) == "x7")
        #expect(future.state == .finished)
    }

    @Test("kwargs are recorded as the stored properties of the options value")
    func kwargsRecorded() throws {
        struct Cost: Sendable {
            var cost = 1.0
            var label = "fast"
        }
        let scheduler = BackgroundScheduler(maxWorkers: 1)
        defer { scheduler.shutdown() }
        let id = try scheduler.start(
            { (options: Cost, times: Int) in options.cost * Double(times) },
            args: 3, kwargs: Cost(cost: 2), name: "now")
        let record = try #require(scheduler.tasks[id])
        #expect(record.kwargs.map(\.name) == ["cost", "label"])
        #expect(record.kwargs[0].value as? Double == 2 && record.kwargs[1].value as? String == "fast")
        #expect(record.description == "now(3, cost=2.0, label=fast)")
        #expect(try scheduler.futures[id]!.result(as: Double.self) == 6)
    }

    @Test("a task with no arguments may leave out args:, and its name defaults to task")
    func noArguments() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 1)
        defer { scheduler.shutdown() }
        let id = try scheduler.start({ 42 })
        #expect(scheduler.tasks[id]?.name == "task")
        #expect(try scheduler.futures[id]?.result(as: Int.self) == 42)
        // The overload for no arguments takes a name and options as the parameter-pack form does.
        let named = try scheduler.start({ "x" }, name: "named", options: TaskOptions(timeout: .seconds(60)))
        let record = try #require(scheduler.tasks[named])
        #expect(record.name == "named" && record.args.isEmpty && record.kwargs.isEmpty && record.options.timeout == .seconds(60))
        #expect(try scheduler.futures[named]?.result(as: String.self) == "x")
    }

    @Test("a thrown error becomes the failure and the pool keeps running")
    func errorBecomesFailure() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 1)
        defer { scheduler.shutdown() }
        let failing = try scheduler.start({ () throws -> Int in throw Failure(reason: "boom") })
        let after = try scheduler.start({ 1 })
        #expect(try scheduler.futures[after]!.result(as: Int.self) == 1)
        let future = scheduler.futures[failing]!
        #expect(future.state == .failed)
        #expect(future.error as? Failure == Failure(reason: "boom"))
        #expect(throws: Failure(reason: "boom")) { try future.result() }
    }

    @Test("start after shutdown throws shut-down and leaves the tables and latestID as they were")
    func startAfterShutdownThrows() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 1)
        let id = try scheduler.start({})
        scheduler.shutdown()
        #expect { try scheduler.start({}) } throws: { ($0 as? SchedulerError)?.code == .shutDown }
        #expect(scheduler.latestID == id)
        #expect(scheduler.tasks.count == 1)
        #expect(scheduler.statistics.submitted == 1 && scheduler.statistics.pending == 0)
    }

    @Test("shutdown before any start also refuses later starts")
    func shutdownBeforeStart() {
        let scheduler = BackgroundScheduler(maxWorkers: 1)
        scheduler.shutdown()
        #expect(scheduler.stopped)
        #expect(throws: SchedulerError.self) { try scheduler.start({}) }
    }

    @Test("tasks beyond maxWorkers wait and start in FIFO order")
    func fifoOrder() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 1)
        let gate = Gate()
        let order = Log<Int>()
        let started = Counter()
        try scheduler.start({
            started.increment()
            gate.wait()
        })
        #expect(started.wait(until: 1))
        for index in 0..<200 { try scheduler.start({ (i: Int) in order.append(i) }, args: index) }
        #expect(scheduler.statistics.pending == 200)
        gate.open()
        scheduler.shutdown(wait: true)
        #expect(order.all == Array(0..<200))
    }

    @Test("no more than maxWorkers tasks run at once, and blocking inside a task is fine")
    func concurrencyIsBounded() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 3)
        let current = Atomic<Int>(0)
        let peak = Atomic<Int>(0)
        for _ in 0..<30 {
            try scheduler.start({
                let now = current.add(1, ordering: .sequentiallyConsistent).newValue
                peak.max(now, ordering: .sequentiallyConsistent)
                usleep(2_000)  // blocking work is what the pool's threads are for
                current.subtract(1, ordering: .sequentiallyConsistent)
            })
        }
        scheduler.shutdown(wait: true)
        #expect(peak.load(ordering: .acquiring) <= 3)
        #expect(peak.load(ordering: .acquiring) >= 2, "tasks should overlap on 3 workers")
        #expect(scheduler.statistics.finished == 30)
    }

    @Test("shutdown(wait: true) returns after every queued and running task ended")
    func shutdownWaitsForAll() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 2)
        let done = Counter()
        for _ in 0..<100 {
            try scheduler.start({
                usleep(100)
                done.increment()
            })
        }
        scheduler.shutdown(wait: true)
        #expect(done.count == 100)
        #expect(scheduler.futures.allSatisfy { $0.value.state == .finished })
    }

    @Test("shutdown(wait: false) returns at once and the queued tasks still run")
    func shutdownWithoutWait() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 1)
        let gate = Gate()
        let done = Counter()
        try scheduler.start({ gate.wait() })
        for _ in 0..<10 { try scheduler.start({ done.increment() }) }
        scheduler.shutdown(wait: false)
        #expect(scheduler.stopped)
        #expect(done.count == 0)
        gate.open()
        #expect(scheduler.awaitTermination(timeout: .seconds(30)))
        #expect(done.count == 10)
    }

    @Test("shutdown with cancelPending cancels queued tasks and lets the running one finish")
    func shutdownCancelsPending() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 1)
        let gate = Gate()
        let started = Counter()
        let running = try scheduler.start({
            started.increment()
            gate.wait()
        })
        #expect(started.wait(until: 1))
        let queued = try (0..<5).map { _ in try scheduler.start({}) }
        scheduler.shutdown(wait: false, cancelPending: true)
        gate.open()
        #expect(scheduler.awaitTermination(timeout: .seconds(30)))
        #expect(scheduler.futures[running]?.state == .finished)
        #expect(queued.allSatisfy { scheduler.futures[$0]?.state == .cancelled })
        #expect(scheduler.statistics.cancelled == 5)
    }

    @Test(
        "a task may shut down its own scheduler and wait for the others without deadlock",
        arguments: [nil, 0, 5] as [Int?])
    func shutdownFromInsideATask(keepFinished: Int?) throws {
        let scheduler = BackgroundScheduler(maxWorkers: 2, keepFinished: keepFinished)
        let done = Counter()
        for _ in 0..<20 {
            try scheduler.start({
                usleep(200)
                done.increment()
            })
        }
        let closer = try scheduler.start({
            scheduler.shutdown(wait: true)
            return done.count
        })
        #expect(try scheduler.futures[closer]!.result(as: Int.self, timeout: .seconds(30)) == 20)
    }

    /// With a retention bound a finished task's closure is released by the thread that next uses
    /// the tables, not by its worker; a shutdown that waits must still leave none behind, or one
    /// that holds its scheduler would keep it alive for good.
    @Test(
        "every finished task's closure is released by the time shutdown(wait: true) returns, with or without a retention bound",
        arguments: [nil, 0, 3, 1000] as [Int?])
    func finishedClosuresAreReleasedByShutdown(keepFinished: Int?) throws {
        final class Payload: Sendable {}
        let scheduler = BackgroundScheduler(maxWorkers: 2, keepFinished: keepFinished)
        var payloads: [WeakPayload] = []
        for _ in 0..<200 {
            let payload = Payload()
            payloads.append(WeakPayload(payload))
            try scheduler.start({ withExtendedLifetime(payload) {} })
        }
        scheduler.shutdown(wait: true)
        #expect(payloads.allSatisfy { $0.isReleased })
        #expect(scheduler.futures.count == min(200, keepFinished ?? 200))
    }

    /// The tables release a finished task's closure, but not under their lock: what it captured
    /// may use the scheduler as it goes.
    @Test(
        "a finished task's captured object may read the tables as it goes away, with a retention bound",
        .timeLimit(.minutes(1)))
    func capturedObjectMayUseTheTablesAsItGoes() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 1, keepFinished: 1)
        let released = Counter()
        do {
            let reader = TableReader(scheduler, released)
            let id = try scheduler.start({ withExtendedLifetime(reader) {} })
            _ = try scheduler.futures[id]!.result(timeout: .seconds(30))
        }
        for _ in 0..<3 { try scheduler.start({}) }
        scheduler.shutdown(wait: true)
        #expect(released.count == 1)
    }

    @Test(
        "a removed task's captured argument may read the tables as it goes away",
        .timeLimit(.minutes(1)))
    func removedArgumentMayUseTheTablesAsItGoes() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 1)
        let released = Counter()
        do {
            let id = try scheduler.start({ (_: TableReader) in }, args: TableReader(scheduler, released))
            _ = try scheduler.futures[id]!.result(timeout: .seconds(30))
            #expect(scheduler.removeEnded([id]) == [id])
        }
        scheduler.shutdown(wait: true)
        #expect(released.count == 1)
    }

    @Test("a cooperative infinite loop ends at shutdown instead of finishing its interval")
    func cooperativeLoopEndsPromptly() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 2)
        let ticks = Counter()
        let id = try scheduler.start(
            { (interval: Duration) in
                while !scheduler.stopped {
                    ticks.increment()
                    scheduler.sleep(for: interval)
                }
            }, args: .seconds(3600), name: "timer")
        #expect(ticks.wait(until: 1))
        let clock = ContinuousClock()
        let elapsed = clock.measure { scheduler.shutdown(wait: true) }
        #expect(scheduler.futures[id]?.state == .finished)
        #expect(elapsed < .seconds(60), "shutdown waited \(elapsed) for a loop sleeping an hour")
    }

    @Test("sleep returns true when it slept the whole time, false when the stop woke it")
    func sleepReportsWhyItReturned() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 1)
        try scheduler.start({})
        #expect(scheduler.sleep(for: .milliseconds(1)))
        scheduler.shutdown()
        #expect(!scheduler.sleep(for: .seconds(3600)))
    }

    @Test("the task decorator binds a typed function to the scheduler once")
    func taskDecorator() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 1)
        defer { scheduler.shutdown() }
        let scale = scheduler.task("scale") { (value: Int, factor: Double) in Double(value) * factor }
        let id = try scale.start(4, 2.5)
        #expect(scheduler.tasks[id]?.name == "scale")
        #expect(scheduler.tasks[id]?.description == "scale(4, 2.5)")
        #expect(try scheduler.futures[id]?.result(as: Double.self) == 10)
        #expect(try scale(2, 2) == 4)
    }

    @Test("statistics count tasks per state")
    func statisticsCount() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 1)
        let gate = Gate()
        let started = Counter()
        try scheduler.start({
            started.increment()
            gate.wait()
        })
        #expect(started.wait(until: 1))
        try scheduler.start({ () throws in throw Failure(reason: "x") })
        try scheduler.start({})
        let cancelled = try scheduler.start({})
        scheduler.futures[cancelled]!.cancel()
        #expect(scheduler.statistics == SchedulerStatistics(submitted: 4, pending: 2, running: 1, finished: 0, failed: 0, cancelled: 1))
        gate.open()
        scheduler.shutdown(wait: true)
        #expect(scheduler.statistics == SchedulerStatistics(submitted: 4, pending: 0, running: 0, finished: 2, failed: 1, cancelled: 1))
    }
}

@Suite("Deferred worker wake-ups")
struct DeferredWakeTests {
    @Test("tasks started without a wake-up while the workers sleep all run after wakeWorkers()")
    func deferredStartsRunAfterTheWake() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 2)
        defer { scheduler.shutdown(wait: true) }
        _ = try startFuture(scheduler) {}.wait()
        // Both workers asleep (past their short spin).
        while scheduler.pool.sleepingCount < 2 { sched_yield() }
        let ran = Counter()
        for index in 0..<10 {
            let record = TaskRecord(id: scheduler.newTaskID(), name: "deferred-\(index)", args: [], kwargs: [], submittedAt: Date())
            try scheduler.start(record, wakingWorker: false) { _ in ran.increment() }
        }
        scheduler.wakeWorkers()
        #expect(ran.wait(until: 10))
    }
}

/// A weak reference to a task's captured object, to see when the task's closure let it go.
private struct WeakPayload {
    private weak var object: AnyObject?
    init(_ object: AnyObject) { self.object = object }
    var isReleased: Bool { object == nil }
}

/// An object that reads its scheduler's tables as it goes away, and counts that it went: held by
/// a task, it checks the tables free what tasks hold outside their lock.
private final class TableReader: Sendable {
    let scheduler: Scheduler
    let released: Counter

    init(_ scheduler: Scheduler, _ released: Counter) {
        self.scheduler = scheduler
        self.released = released
    }

    deinit {
        _ = scheduler.futures.count
        released.increment()
    }
}
