import Foundation
import PyBackgroundTesting
import Testing

@testable import PyBackground

@Suite("Retries of failed tasks")
struct RetryTests {
    static let start = Date(timeIntervalSince1970: 1_767_225_600)

    /// A task that fails its first `failures` attempts, counting every attempt.
    static func flaky(failures: Int, attempts: Counter) -> @Sendable () throws -> Int {
        {
            attempts.increment()
            if attempts.count <= failures { throw Failure(reason: "attempt \(attempts.count)") }
            return 7
        }
    }

    @Test("a failed attempt waits retrying, holding no worker, until its backoff has passed; every attempt is kept")
    func retriesUntilSuccess() throws {
        let clock = ManualClock(now: Self.start)
        let scheduler = BackgroundScheduler(maxWorkers: 1, clock: clock)
        defer { scheduler.shutdown(wait: true) }
        let attempts = Counter()
        let policy = RetryPolicy(maxAttempts: 5, backoff: .exponential(base: .seconds(10), maxDelay: .seconds(60)))
        let id = try scheduler.start(Self.flaky(failures: 2, attempts: attempts), name: "flaky", options: TaskOptions(retry: policy))
        let future = try #require(scheduler.futures[id])
        #expect(eventually { future.state == .retrying })
        #expect(future.retryAt == Self.start.addingTimeInterval(10) && attempts.count == 1)
        #expect(scheduler.statistics.retrying == 1 && scheduler.statistics.pending == 0 && scheduler.statistics.failed == 0)
        // Its worker is free meanwhile.
        #expect(try startFuture(scheduler) { 1 }.wait(timeout: .seconds(30)))
        clock.advance(by: .seconds(9))
        #expect(future.state == .retrying)
        clock.advance(by: .seconds(1))
        #expect(attempts.wait(until: 2))
        #expect(eventually { future.state == .retrying })
        #expect(future.retryAt == Self.start.addingTimeInterval(10 + 20))  // doubled
        clock.advance(by: .seconds(20))
        #expect(try future.result(as: Int.self, timeout: .seconds(30)) == 7)
        #expect(future.state == .finished && future.attempt == 3 && future.retryAt == nil)
        #expect(future.attempts.map(\.number) == [1, 2])
        #expect(future.attempts.map { ($0.error as? Failure)?.reason } == ["attempt 1", "attempt 2"])
        scheduler.shutdown(wait: true)
        #expect(scheduler.statistics.retrying == 0 && scheduler.statistics.finished == 2 && scheduler.statistics.failed == 0)
    }

    @Test("after max_attempts the task ends failed with the last attempt's error")
    func givesUp() throws {
        let clock = ManualClock(now: Self.start)
        let scheduler = BackgroundScheduler(maxWorkers: 1, clock: clock)
        defer { scheduler.shutdown(wait: true) }
        let attempts = Counter()
        let policy = RetryPolicy(maxAttempts: 3, backoff: .fixed(.seconds(1)))
        let id = try scheduler.start(Self.flaky(failures: 100, attempts: attempts), options: TaskOptions(retry: policy))
        let future = try #require(scheduler.futures[id])
        for attempt in 1...2 {
            #expect(attempts.wait(until: attempt))
            #expect(eventually { future.state == .retrying })
            clock.advance(by: .seconds(1))
        }
        #expect(future.wait(timeout: .seconds(30)) && future.state == .failed)
        #expect((future.error as? Failure)?.reason == "attempt 3" && future.attempts.count == 2 && attempts.count == 3)
    }

    @Test("a failure the policy does not retry is final at once")
    func failureNotRetried() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 1)
        defer { scheduler.shutdown(wait: true) }
        let attempts = Counter()
        let policy = RetryPolicy(maxAttempts: 5, backoff: .fixed(.zero)) { !($0 is Failure) }
        let id = try scheduler.start(Self.flaky(failures: 100, attempts: attempts), options: TaskOptions(retry: policy))
        let future = try #require(scheduler.futures[id])
        #expect(future.wait(timeout: .seconds(30)) && future.state == .failed && attempts.count == 1 && future.attempts.isEmpty)
    }

    @Test("a retrying task can be cancelled and never runs again; a shutdown cancels one still retrying")
    func cancelAndShutdownWhileRetrying() throws {
        let clock = ManualClock(now: Self.start)
        let scheduler = BackgroundScheduler(maxWorkers: 1, clock: clock)
        let attempts = Counter()
        let policy = RetryPolicy(maxAttempts: 5, backoff: .fixed(.seconds(60)))
        let firstID = try scheduler.start(Self.flaky(failures: 100, attempts: attempts), options: TaskOptions(retry: policy))
        let first = try #require(scheduler.futures[firstID])
        #expect(eventually { first.state == .retrying })
        #expect(first.cancel() && first.state == .cancelled && scheduler.statistics.retrying == 0)
        clock.advance(by: .seconds(120))
        let secondAttempts = Counter()
        let secondID = try scheduler.start(Self.flaky(failures: 100, attempts: secondAttempts), options: TaskOptions(retry: policy))
        let second = try #require(scheduler.futures[secondID])
        #expect(eventually { second.state == .retrying })
        scheduler.shutdown(wait: true)
        #expect(second.state == .cancelled && (second.error == nil))
        guard case .failure(let error as SchedulerError)? = second.outcome else {
            Issue.record("no outcome")
            return
        }
        #expect(error.code == .shutDown && attempts.count == 1 && secondAttempts.count == 1)
    }

    @Test("an attempt that fails after the shutdown began is not given up: its retry is cancelled by the shutdown, for a host to run later")
    func failureDuringShutdown() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 1)
        let started = Gate()
        let release = Gate()
        let policy = RetryPolicy(maxAttempts: 3, backoff: .fixed(.seconds(1)))
        let id = try scheduler.start(
            { () throws -> Int in
                started.open()
                release.wait()
                throw Failure(reason: "late")
            }, options: TaskOptions(retry: policy))
        let future = try #require(scheduler.futures[id])
        started.wait()
        scheduler.shutdown(wait: false)
        release.open()
        #expect(future.wait(timeout: .seconds(30)) && future.state == .cancelled)
        guard case .failure(let error as SchedulerError)? = future.outcome else {
            Issue.record("no outcome")
            return
        }
        #expect(error.code == .shutDown && future.attempts.map(\.number) == [1])
    }

    @Test("with a timeout too, each attempt that runs too long is stopped and retried")
    func timedOutAttemptsRetry() throws {
        let clock = ManualClock(now: Self.start)
        let scheduler = BackgroundScheduler(maxWorkers: 1, clock: clock)
        defer { scheduler.shutdown(wait: true) }
        let attempts = Counter()
        let options = TaskOptions(timeout: .seconds(5), retry: RetryPolicy(maxAttempts: 2, backoff: .fixed(.seconds(1))))
        let id = try scheduler.start(
            { () -> Int in
                attempts.increment()
                scheduler.sleep(for: .seconds(3600))
                return 1
            }, options: options)
        let future = try #require(scheduler.futures[id])
        #expect(attempts.wait(until: 1))
        clock.advance(by: .seconds(5))
        #expect(eventually { future.state == .retrying })
        clock.advance(by: .seconds(1))
        #expect(attempts.wait(until: 2))
        clock.advance(by: .seconds(5))
        #expect(future.wait(timeout: .seconds(30)) && future.state == .failed)
        #expect((future.error as? SchedulerError)?.code == .timedOut)
        #expect(future.attempts.map { ($0.error as? SchedulerError)?.code } == [.timedOut])
    }
}
