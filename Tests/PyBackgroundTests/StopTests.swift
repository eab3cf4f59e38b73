import Foundation
import PyBackgroundTesting
import Testing

@testable import PyBackground

@Suite("Stopping running tasks: kill and timeout")
struct StopTests {
    @Test("a kill stops a cooperative task: its sleep wakes, it ends cancelled, and the error says who asked")
    func killCooperative() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 1)
        defer { scheduler.shutdown(wait: true) }
        let started = Gate()
        let id = try scheduler.start { () -> Int in
            started.open()
            while Future.current?.isStopRequested == false { scheduler.sleep(for: .seconds(3600)) }
            try Future.current?.checkStop()
            return 1
        }
        let future = try #require(scheduler.futures[id])
        started.wait()
        #expect(future.kill(by: "uid 1000") != .finished)
        #expect(future.wait(timeout: .seconds(30)) && future.state == .cancelled)
        guard case .failure(let failure as SchedulerError)? = future.outcome else {
            Issue.record("no error")
            return
        }
        #expect(failure.code == .killed && failure.message.contains("uid 1000"))
        scheduler.shutdown(wait: true)
        #expect(scheduler.statistics.cancelled == 1 && scheduler.statistics.running == 0)
    }

    @Test("a task that ignores the kill keeps running, with the request visible; it ends cancelled when it returns")
    func killIgnored() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 1)
        defer { scheduler.shutdown(wait: true) }
        let started = Gate()
        let release = Gate()
        let id = try scheduler.start { () -> Int in
            started.open()
            release.wait()
            return 1
        }
        let future = try #require(scheduler.futures[id])
        started.wait()
        #expect(future.kill(by: "test") == .running)
        #expect(future.stopRequest?.reason == .killed(by: "test") && future.snapshot.stopRequest != nil)
        #expect(!future.wait(timeout: .milliseconds(50)))
        release.open()
        #expect(future.wait(timeout: .seconds(30)) && future.state == .cancelled && future.stopRequest == nil)
    }

    @Test("kill of a task that has not started cancels it; of an ended one changes nothing")
    func killBeforeAndAfter() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 1)
        defer { scheduler.shutdown(wait: true) }
        let release = Gate()
        let blocker = try startFuture(scheduler) { release.wait() }
        let waiting = try startFuture(scheduler) { 2 }
        #expect(waiting.kill(by: "test") == .cancelled)
        guard case .failure(let error as SchedulerError)? = waiting.outcome else {
            Issue.record("no error")
            return
        }
        #expect(error.code == .killed)
        release.open()
        #expect(blocker.wait(timeout: .seconds(30)))
        #expect(blocker.kill(by: "test") == .finished && blocker.state == .finished)
    }

    @Test("a timeout stops the attempt: stop handlers run, the task ends failed with timed-out")
    func timeout() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 1)
        defer { scheduler.shutdown(wait: true) }
        let handled = Counter()
        let id = try scheduler.start(
            { () -> Int in
                Future.current?.onStopRequest { handled.increment() }
                #expect(Future.current?.sleep(for: .seconds(3600)) == false)
                return 1
            }, options: TaskOptions(timeout: .milliseconds(100)))
        let future = try #require(scheduler.futures[id])
        #expect(future.wait(timeout: .seconds(30)) && future.state == .failed && handled.count == 1)
        #expect((future.error as? SchedulerError)?.code == .timedOut)
        #expect((future.error as? SchedulerError)?.message.contains("timeout") == true)
    }

    @Test("a task that ends before its timeout is not touched by it, nor is the next task on its worker")
    func timeoutNotReached() throws {
        let clock = ManualClock(now: Date(timeIntervalSince1970: 1_767_225_600))
        let scheduler = BackgroundScheduler(maxWorkers: 1, clock: clock)
        defer { scheduler.shutdown(wait: true) }
        let quickID = try scheduler.start({ 1 }, options: TaskOptions(timeout: .seconds(1)))
        let quick = try #require(scheduler.futures[quickID])
        #expect(quick.wait(timeout: .seconds(30)) && quick.state == .finished)
        let started = Gate()
        let release = Gate()
        let next = try startFuture(scheduler) { () -> Int in
            started.open()
            release.wait()
            return 2
        }
        started.wait()
        clock.advance(by: .seconds(10))
        #expect(!next.isStopRequested)
        release.open()
        #expect(try next.result(as: Int.self, timeout: .seconds(30)) == 2)
    }
}
