import Foundation
import PyBackgroundTesting
import Synchronization
import Testing

@testable import PyBackground

@Suite("Queues, limits and priorities")
struct QueueTests {
    /// Records the order tasks ran in.
    final class Order: Sendable {
        private let names = Mutex<[String]>([])
        func append(_ name: String) { names.withLock { $0.append(name) } }
        var all: [String] { names.withLock { $0 } }
    }

    /// Counts tasks running at once, keeping the highest count seen.
    final class Overlap: Sendable {
        private let state = Mutex((now: 0, most: 0))
        func enter() {
            state.withLock {
                $0.now += 1
                $0.most = max($0.most, $0.now)
            }
        }
        func leave() { state.withLock { $0.now -= 1 } }
        var most: Int { state.withLock { $0.most } }
    }

    @Test("higher priority runs first; equal priorities run in submission order")
    func priorityOrder() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 1)
        defer { scheduler.shutdown(wait: true) }
        let release = Gate()
        let started = Gate()
        _ = try startFuture(scheduler) {
            started.open()
            release.wait()
        }
        started.wait()
        let order = Order()
        var last: Future?
        for (name, priority) in [("a0", 0), ("b5", 5), ("c-1", -1), ("d5", 5), ("e10", 10), ("f0", 0)] {
            let id = try scheduler.start({ order.append(name) }, name: name, options: TaskOptions(priority: priority))
            last = scheduler.futures[id]
        }
        release.open()
        scheduler.shutdown(wait: true)
        #expect(last?.state == .finished)
        #expect(order.all == ["e10", "b5", "d5", "a0", "f0", "c-1"])
    }

    @Test("across queues the highest-priority head runs first, the earliest among equals")
    func priorityAcrossQueues() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 1)
        defer { scheduler.shutdown(wait: true) }
        scheduler.configureQueue("a", maxRunning: nil)
        scheduler.configureQueue("b", maxRunning: nil)
        let release = Gate()
        let started = Gate()
        _ = try startFuture(scheduler) {
            started.open()
            release.wait()
        }
        started.wait()
        let order = Order()
        for (name, queue, priority) in [("a1", "a", 1), ("b1", "b", 1), ("b9", "b", 9), ("d0", "default", 0), ("a9", "a", 9)] {
            try scheduler.start({ order.append(name) }, name: name, options: TaskOptions(queue: queue, priority: priority))
        }
        release.open()
        scheduler.shutdown(wait: true)
        #expect(order.all == ["b9", "a9", "a1", "b1", "d0"])
    }

    @Test("a queue's limit is never exceeded under load, and the other workers keep running other queues")
    func limitUnderLoad() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 4)
        defer { scheduler.shutdown(wait: true) }
        scheduler.configureQueue("io", maxRunning: 2)
        let io = Overlap()
        let other = Overlap()
        for index in 0..<400 {
            let inIO = index % 2 == 0
            let overlap = inIO ? io : other
            try scheduler.start(
                {
                    overlap.enter()
                    usleep(200)
                    overlap.leave()
                }, options: TaskOptions(queue: inIO ? "io" : nil))
        }
        scheduler.shutdown(wait: true)
        #expect(io.most == 2)
        #expect(other.most >= 2)
        #expect(scheduler.statistics.finished == 400)
    }

    @Test("a paused queue starts nothing; its tasks wait pending, and resume releases them")
    func pauseAndResume() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 2)
        defer { scheduler.shutdown(wait: true) }
        scheduler.configureQueue("io", maxRunning: 1)
        try scheduler.pauseQueue("io")
        let ran = Counter()
        var held: [Future] = []
        for _ in 0..<5 {
            let id = try scheduler.start({ ran.increment() }, options: TaskOptions(queue: "io"))
            held.append(scheduler.futures[id]!)
        }
        // Default-queue work runs meanwhile, on both workers.
        let others = try (0..<20).map { _ in try startFuture(scheduler) { 1 } }
        #expect(others.allSatisfy { $0.wait(timeout: .seconds(30)) })
        #expect(ran.count == 0 && held.allSatisfy { $0.state == .pending })
        #expect(scheduler.queues.first { $0.name == "io" } == QueueStatistics(name: "io", maxRunning: 1, paused: true, pending: 5, running: 0))
        try scheduler.resumeQueue("io")
        #expect(held.allSatisfy { $0.wait(timeout: .seconds(30)) && $0.state == .finished } && ran.count == 5)
        #expect(throws: SchedulerError.self) { try scheduler.pauseQueue("nope") }
    }

    @Test("at shutdown a paused queue's pending tasks end cancelled by the shutdown, not run")
    func shutdownWithPausedQueue() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 1)
        scheduler.configureQueue("io", maxRunning: nil)
        try scheduler.pauseQueue("io")
        let id = try scheduler.start({ 1 }, options: TaskOptions(queue: "io"))
        let future = try #require(scheduler.futures[id])
        scheduler.shutdown(wait: true)
        guard case .failure(let error as SchedulerError)? = future.outcome else {
            Issue.record("no outcome")
            return
        }
        #expect(future.state == .cancelled && error.code == .shutDown)
    }

    @Test("a task for a queue the scheduler does not have is refused, naming the queues")
    func unknownQueue() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 1)
        defer { scheduler.shutdown(wait: true) }
        #expect {
            try scheduler.start({ 1 }, options: TaskOptions(queue: "nope"))
        } throws: { error in
            (error as? SchedulerError)?.code == .unknownQueue && "\(error)".contains("default")
        }
    }
}
