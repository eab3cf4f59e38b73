import Foundation
import PyBackgroundProtocol
import PyBackgroundTesting
import Testing

/// `SUBMIT in=…` and `at=…` with the real daemon: the task waits as `scheduled`, is listed and
/// counted, can be cancelled, and outlives restarts; one that fell due while pybgd was down runs
/// at start.
extension DurabilityTests {
    private func scheduled(_ daemon: DaemonHarness, _ options: SubmitOptions, task: String = "noop") throws -> SubmitPayload {
        try daemon.ok(.submit(task: task, arguments: [], options: options), as: SubmitPayload.self)
    }

    private func future(_ daemon: DaemonHarness, _ id: String) throws -> FuturePayload {
        try daemon.ok(.result(id: id), as: FuturePayload.self)
    }

    @Test("a task submitted with in= waits scheduled with its run_at in the tables and STATUS, and CANCEL withdraws it for good")
    func scheduledThenCancelled() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(at: directory) }
        let before = Date().timeIntervalSince1970
        let cancelled: String
        do {
            let daemon = try DaemonHarness(config: Self.keepAll, directory: directory)
            let reply = try scheduled(daemon, SubmitOptions(timing: .after(.seconds(3600))))
            let runAt = try #require(reply.runAt)
            #expect(runAt >= before + 3600 && runAt <= Date().timeIntervalSince1970 + 3600)
            let waiting = try future(daemon, reply.id)
            #expect(waiting.state == "scheduled" && waiting.runAt == runAt && waiting.startedAt == nil)
            let row = try #require(try daemon.ok(.tasks(limit: .all), as: TasksPayload.self).tasks.first { $0.id == reply.id })
            #expect(row.runAt == runAt)
            let status = try daemon.ok(.status, as: StatusPayload.self)
            #expect(status.scheduled == 1 && status.pending == 0 && status.running == 0)

            let withdrawn = try daemon.ok(.cancel(id: reply.id), as: FuturePayload.self)
            #expect(withdrawn.state == "cancelled" && withdrawn.error?.code == "cancelled")
            #expect(try daemon.ok(.status, as: StatusPayload.self).scheduled == 0)
            cancelled = reply.id
            #expect(try daemon.send(.shutdown(wait: true)).isOK)
            #expect(daemon.waitForExit())
        }
        let restarted = try DaemonHarness(config: Self.keepAll, directory: directory)
        #expect(try future(restarted, cancelled).state == "cancelled")
        #expect(try restarted.ok(.status, as: StatusPayload.self).scheduled == 0)
    }

    @Test("scheduled tasks outlive a shutdown and a SIGKILL with their run_at; one that fell due while pybgd was down runs at start")
    func scheduledAcrossRestarts() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (later, soon): (SubmitPayload, SubmitPayload)
        do {
            let daemon = try DaemonHarness(config: Self.keepAll, directory: directory)
            later = try scheduled(daemon, SubmitOptions(timing: .after(.seconds(3600))))
            let dueAt = Timestamp(Date().addingTimeInterval(1.5), offsetSeconds: 3600)
            soon = try scheduled(daemon, SubmitOptions(timing: .at(dueAt)), task: "utcnow")
            #expect(soon.runAt.map { abs($0 - dueAt.epochSeconds(offsetIfLocal: 0)) < 0.001 } == true)
            let stopping = try daemon.ok(.shutdown(wait: true), as: ShutdownPayload.self)
            #expect(stopping.pending == 0 && stopping.running == 0)
            #expect(daemon.waitForExit())
        }
        // The daemon is down when `soon` falls due: the condition is the clock itself.
        Thread.sleep(until: Date(timeIntervalSince1970: try #require(soon.runAt) + 0.05))
        do {
            let daemon = try DaemonHarness(config: Self.keepAll, directory: directory)
            let ran = try daemon.ok(.wait(id: soon.id, timeout: 30), as: FuturePayload.self)
            #expect(ran.state == "finished" && ran.runAt == soon.runAt)
            #expect(try #require(ran.startedAt) >= soon.runAt!)
            let waiting = try future(daemon, later.id)
            #expect(waiting.state == "scheduled" && waiting.runAt == later.runAt)
            daemon.signal(SIGKILL)
            #expect(daemon.waitForExit())
        }
        let daemon = try DaemonHarness(config: Self.keepAll, directory: directory)
        let waiting = try future(daemon, later.id)
        #expect(waiting.state == "scheduled" && waiting.runAt == later.runAt)
        // A retry-safe task whose end was not yet on disk at the SIGKILL runs again; either way it ends finished.
        #expect(try daemon.ok(.wait(id: soon.id, timeout: 30), as: FuturePayload.self).state == "finished")
        #expect(try daemon.ok(.status, as: StatusPayload.self).scheduled == 1)
    }

    @Test("max_scheduled bounds the tasks waiting for their time, tasks to run now are not counted against it, and at= reaches 3650 days at most")
    func maxScheduled() throws {
        let daemon = try DaemonHarness(config: "scheduler: {max_scheduled: 2}\nstate: {store: memory}")
        for _ in 0..<2 { _ = try scheduled(daemon, SubmitOptions(timing: .after(.seconds(600)))) }
        guard
            case .error(.queueFull, let message) = try daemon.send(.submit(task: "noop", arguments: [], options: SubmitOptions(timing: .after(.seconds(600)))))
        else {
            Issue.record("a third scheduled task was accepted")
            return
        }
        #expect(message.contains("scheduler.max_scheduled"))
        _ = try daemon.submit("noop")
        let far = SubmitOptions(timing: .at(Timestamp(year: 2099, month: 1, day: 1, hour: 0, minute: 0, offsetSeconds: 0)))
        guard case .error(.badRequest, let tooFar) = try daemon.send(.submit(task: "noop", arguments: [], options: far)) else {
            Issue.record("a task 70 years ahead was accepted")
            return
        }
        #expect(tooFar.contains("more than 3650 days ahead"))
    }
}
