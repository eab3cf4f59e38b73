import Foundation
import PyBackgroundTesting
import Testing

@testable import PyBackground

@Suite("Future")
struct FutureTests {
    @Test("moves pending → running → finished and records its timings")
    func stateTransitions() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 1)
        defer { scheduler.shutdown() }
        let gate = Gate()
        let started = Counter()
        let first = try scheduler.start({
            started.increment()
            gate.wait()
        })
        let second = try scheduler.start({ "done" })
        #expect(started.wait(until: 1))
        #expect(scheduler.futures[first]?.state == .running)
        #expect(scheduler.futures[second]?.state == .pending)
        #expect(scheduler.futures[second]?.startedAt == nil)
        gate.open()
        let future = try #require(scheduler.futures[second])
        #expect(try future.result(as: String.self, timeout: .seconds(30)) == "done")
        let submitted = future.record.submittedAt
        let startedAt = try #require(future.startedAt)
        let endedAt = try #require(future.endedAt)
        #expect(submitted <= startedAt && startedAt <= endedAt)
        #expect(future.isDone)
    }

    @Test("cancel succeeds for a pending task only, and its result throws cancelled")
    func cancelPendingOnly() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 1)
        defer { scheduler.shutdown() }
        let gate = Gate()
        let started = Counter()
        let ran = Counter()
        let running = try startFuture(
            scheduler,
            {
                started.increment()
                gate.wait()
            })
        let pending = try startFuture(scheduler, { ran.increment() })
        #expect(started.wait(until: 1))
        #expect(!running.cancel())
        #expect(pending.cancel())
        #expect(pending.cancel(), "cancelling twice still reports cancelled")
        #expect(pending.state == .cancelled)
        gate.open()
        #expect(running.wait(timeout: .seconds(30)))
        #expect { try pending.result() } throws: { ($0 as? SchedulerError)?.code == .cancelled }
        scheduler.shutdown(wait: true)
        #expect(ran.count == 0, "a cancelled task must never run")
        #expect(!running.cancel(), "a finished task cannot be cancelled")
    }

    @Test("result(timeout:) throws timed-out while the task is still running")
    func resultTimesOut() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 1)
        let gate = Gate()
        let future = try startFuture(scheduler, { gate.wait() })
        #expect { try future.result(timeout: .milliseconds(20)) } throws: { ($0 as? SchedulerError)?.code == .timedOut }
        #expect(!future.wait(timeout: .milliseconds(1)))
        gate.open()
        #expect(future.wait())
        scheduler.shutdown()
    }

    @Test("result(as:) with the wrong type throws result-type-mismatch")
    func resultTypeMismatch() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 1)
        defer { scheduler.shutdown() }
        let future = try startFuture(scheduler, { 1 })
        #expect { try future.result(as: String.self) } throws: { ($0 as? SchedulerError)?.code == .resultTypeMismatch }
    }

    @Test("the value can be awaited, and a failure is thrown to the awaiting task")
    func asyncValue() async throws {
        let scheduler = BackgroundScheduler(maxWorkers: 2)
        defer { scheduler.shutdown() }
        let gate = Gate()
        let id = try scheduler.start({ () -> Int in
            gate.wait()
            return 5
        })
        let failing = try scheduler.start({ () throws -> Int in throw Failure(reason: "async") })
        async let value = scheduler.futures[id]!.value(as: Int.self)
        gate.open()
        #expect(try await value == 5)
        await #expect(throws: Failure(reason: "async")) { try await scheduler.futures[failing]!.value }
        #expect(try await scheduler.futures[id]!.value as? Int == 5, "awaiting a done future returns at once")
    }

    @Test("cancelling the awaiting Swift task stops the wait, not the scheduled task")
    func awaitingTaskCancellation() async throws {
        let scheduler = BackgroundScheduler(maxWorkers: 1)
        let gate = Gate()
        let future = try startFuture(
            scheduler,
            { () -> Int in
                gate.wait()
                return 1
            })
        let waiter = Task { try await future.value }
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        gate.open()
        #expect(try future.result(as: Int.self, timeout: .seconds(30)) == 1)
        scheduler.shutdown()
    }

    @Test("done callbacks run once when the task ends, and at once when added to a done future")
    func doneCallbacks() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 1)
        defer { scheduler.shutdown() }
        let gate = Gate()
        let calls = Log<FutureState>()
        let future = try startFuture(scheduler, { gate.wait() })
        future.addDoneCallback { calls.append($0.state) }
        future.addDoneCallback { calls.append($0.state) }
        #expect(calls.all.isEmpty)
        gate.open()
        #expect(future.wait(timeout: .seconds(30)))
        scheduler.shutdown(wait: true)
        #expect(calls.all == [.finished, .finished])
        future.addDoneCallback { calls.append($0.state) }
        #expect(calls.all.count == 3)
    }

    @Test("a cancelled future's callbacks run with the cancelled state")
    func callbacksOnCancel() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 1)
        defer { scheduler.shutdown() }
        let gate = Gate()
        try scheduler.start({ gate.wait() })
        let future = try startFuture(scheduler, {})
        let calls = Log<FutureState>()
        future.addDoneCallback { calls.append($0.state) }
        future.cancel()
        #expect(calls.all == [.cancelled])
        gate.open()
    }
}

@Suite("Future snapshot")
struct FutureSnapshotTests {
    @Test("a snapshot's state, times and outcome agree")
    func snapshotAgrees() throws {
        let scheduler = BackgroundScheduler(maxWorkers: 1)
        defer { scheduler.shutdown() }
        let gate = Gate()
        let future = try startFuture(
            scheduler,
            { () -> Int in
                gate.wait()
                return 3
            })
        let pending = future.snapshot
        #expect(pending.outcome == nil && pending.endedAt == nil)
        gate.open()
        #expect(future.wait(timeout: .seconds(30)))
        let ended = future.snapshot
        #expect(ended.state == .finished && ended.endedAt != nil && ended.startedAt != nil)
        #expect(try ended.outcome?.get() as? Int == 3)
    }
}
