import Foundation
import PyBackgroundTesting
import Testing

@testable import PyBackground

@Suite("Tasks that run after others")
struct DependencyTests {
    @Test("a chain runs in order: each task waits until the one it runs after has finished")
    func chain() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 4)
        defer { scheduler.shutdown(wait: true) }
        let release = Gate()
        let order = QueueTests.Order()
        let first = try scheduler.start {
            release.wait()
            order.append("first")
        }
        let second = try scheduler.start({ order.append("second") }, options: TaskOptions(after: [first]))
        let third = try scheduler.start({ order.append("third") }, options: TaskOptions(after: [first, second]))
        #expect(scheduler.futures[second]?.state == .waiting && scheduler.futures[third]?.state == .waiting)
        #expect(scheduler.statistics.waiting == 2)
        release.open()
        #expect(scheduler.futures[third]!.wait(timeout: .seconds(30)))
        #expect(order.all == ["first", "second", "third"])
        #expect([first, second, third].allSatisfy { scheduler.futures[$0]?.state == .finished })
        #expect(scheduler.statistics.waiting == 0)
    }

    @Test("when a task fails, those after it are cancelled with dependency-failed naming it, and so on down the chain")
    func failurePropagates() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 2)
        defer { scheduler.shutdown(wait: true) }
        let release = Gate()
        let failing = try scheduler.start { () throws -> Int in
            release.wait()
            throw Failure(reason: "no")
        }
        let ran = Counter()
        let second = try scheduler.start({ ran.increment() }, options: TaskOptions(after: [failing]))
        let third = try scheduler.start({ ran.increment() }, options: TaskOptions(after: [second]))
        release.open()
        let last = try #require(scheduler.futures[third])
        #expect(last.wait(timeout: .seconds(30)) && last.state == .cancelled)
        guard case .failure(let secondError as SchedulerError)? = scheduler.futures[second]?.outcome,
            case .failure(let thirdError as SchedulerError)? = last.outcome
        else {
            Issue.record("no errors")
            return
        }
        #expect(secondError.code == .dependencyFailed && secondError.message.contains("\(failing) failed"))
        #expect(thirdError.code == .dependencyFailed && thirdError.message.contains("\(second) cancelled"))
        #expect(ran.count == 0)
    }

    @Test("after a task already finished, a task runs at once; after an unknown one it is refused")
    func endedAndUnknown() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 1)
        defer { scheduler.shutdown(wait: true) }
        let done = try startFuture(scheduler) { 1 }
        #expect(done.wait(timeout: .seconds(30)))
        let next = try scheduler.start({ 2 }, options: TaskOptions(after: [done.id]))
        #expect(try scheduler.futures[next]!.result(as: Int.self, timeout: .seconds(30)) == 2)
        #expect {
            try scheduler.start({ 3 }, options: TaskOptions(after: [scheduler.newTaskID()]))
        } throws: { ($0 as? SchedulerError)?.code == .unknownDependency }
    }

    @Test("a waiting task can be cancelled; its prerequisite's end then does nothing to it")
    func cancelWaiting() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 1)
        defer { scheduler.shutdown(wait: true) }
        let release = Gate()
        let first = try scheduler.start { release.wait() }
        let ran = Counter()
        let second = try scheduler.start({ ran.increment() }, options: TaskOptions(after: [first]))
        #expect(scheduler.futures[second]!.cancel())
        release.open()
        #expect(scheduler.futures[first]!.wait(timeout: .seconds(30)))
        scheduler.shutdown(wait: true)
        #expect(ran.count == 0 && scheduler.futures[second]?.state == .cancelled && scheduler.statistics.waiting == 0)
    }
}

@Suite("Unique keys")
struct UniqueKeyTests {
    @Test("while a task holds a unique key a second start with it is refused, naming the holder; once it ends the key is free")
    func uniqueWhileLive() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 1)
        defer { scheduler.shutdown(wait: true) }
        let release = Gate()
        let first = try scheduler.start({ release.wait() }, options: TaskOptions(uniqueKey: "report"))
        #expect(scheduler.task(uniqueKey: "report") == first)
        #expect {
            try scheduler.start({ 1 }, options: TaskOptions(uniqueKey: "report"))
        } throws: { ($0 as? SchedulerError)?.code == .duplicateKey && "\($0)".contains("\(first)") }
        release.open()
        #expect(scheduler.futures[first]!.wait(timeout: .seconds(30)))
        #expect(eventually { scheduler.task(uniqueKey: "report") == nil })
        let second = try scheduler.start({ 2 }, options: TaskOptions(uniqueKey: "report"))
        #expect(try scheduler.futures[second]!.result(as: Int.self, timeout: .seconds(30)) == 2)
    }
}
