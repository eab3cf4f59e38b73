import Foundation
import PyBackgroundClient
import PyBackgroundProtocol
import PyBackgroundTesting
import Synchronization
import Testing

/// Retries, timeouts, kill, queues, priorities, dependencies and unique keys with the real pybgd
/// (SQLite store) and the real pybgctl.
@Suite("Failure and flow with the real daemon")
struct FailureFlowTests {
    /// A command task that appends a line per attempt to `{dir}/{key}` and fails until its third
    /// attempt; `flock -n` on `{dir}/{key}.lock` writes OVERLAP if an earlier attempt still runs.
    static func config(_ directory: URL, extra: String = "") -> String {
        """
        scheduler: {keep_finished: null, max_workers: 4, kill_grace_seconds: 1}
        queues:
          io: {max_running: 2}
        tasks:
          - name: flaky
            argv: ["sh", "-c", "exec 9>>{dir}/{key}.lock; flock -n 9 || echo OVERLAP >> {dir}/overlaps; echo run >> {dir}/{key}; sleep {hold}; [ $(wc -l < {dir}/{key}) -ge 3 ]"]
            parameters:
              - {name: dir, type: string}
              - {name: key, type: string}
              - {name: hold, type: double, default: 0}
            retry: {max_attempts: 5, backoff: fixed, base: 300ms, jitter: 0}
          - name: overlap
            description: record how many tasks of the io queue run at once
            argv: ["sh", "-c", "touch {dir}/run.$$; ls {dir} | grep -c '^run\\\\.' >> {dir}/counts; sleep 0.05; rm {dir}/run.$$"]
            parameters:
              - {name: dir, type: string}
            queue: io
          - name: stubborn
            argv: ["sh", "-c", "trap '' TERM; echo started; sleep 60"]
          - name: fail
            argv: ["false"]
        \(extra)
        """
    }

    func submit(_ daemon: DaemonHarness, _ options: SubmitOptions, _ task: String, _ arguments: String...) throws -> SubmitPayload {
        try daemon.ok(.submit(task: task, arguments: arguments, options: options), as: SubmitPayload.self)
    }

    func ended(_ daemon: DaemonHarness, _ id: String, timeout: Double = 60) throws -> FuturePayload {
        try daemon.ok(.wait(id: id, timeout: timeout), as: FuturePayload.self)
    }

    func lines(_ file: URL) -> [String] {
        ((try? String(contentsOf: file, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    @Test("a failing command is retried by its policy: retrying with its next time between attempts, every attempt kept, then finished")
    func retriesUntilSuccess() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(at: directory) }
        let daemon = try DaemonHarness(config: Self.config(directory), directory: directory)
        let id = try daemon.submit("flaky", directory.path, "a")
        #expect(eventually { (try? daemon.ok(.result(id: id), as: FuturePayload.self).state) == "retrying" })
        let retrying = try daemon.ok(.result(id: id), as: FuturePayload.self)
        #expect(retrying.retryAt != nil && retrying.attempts?.count == 1 && retrying.attempts?.first?.error.code == "exit-status")
        #expect(try daemon.ok(.status, as: StatusPayload.self).retrying == 1)
        let done = try ended(daemon, id)
        #expect(done.state == "finished" && done.attempt == 3 && done.attempts?.map(\.attempt) == [1, 2])
        #expect(done.flow?.maxAttempts == 5)
        #expect(lines(directory.appendingPathComponent("a")).count == 3)
    }

    @Test("attempts= on a submission retries a task that has no policy; a timeout= stops each attempt of a built-in")
    func submissionRetriesAndTimeout() throws {
        let daemon = try DaemonHarness(config: "scheduler: {max_workers: 2}")
        let timed = try submit(daemon, SubmitOptions(attempts: 2, timeout: .milliseconds(200)), "sleep", "30")
        let started = Date()
        let result = try ended(daemon, timed.id)
        #expect(result.state == "failed" && result.error?.code == "timed-out" && result.attempt == 2)
        #expect(result.attempts?.first?.error.code == "timed-out")
        #expect(Date().timeIntervalSince(started) < 20)  // two 0.2 s attempts and a backoff, not 30 s
        #expect(result.flow?.timeoutSeconds == 0.2 && result.flow?.maxAttempts == 2)
    }

    @Test("SIGKILL of pybgd during retries, then a restart: every task ends, every attempt is counted once, none ran twice at once")
    func sigkillDuringRetries() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(at: directory) }
        let keys = (0..<12).map { "k\($0)" }
        var ids: [String: String] = [:]
        do {
            let daemon = try DaemonHarness(config: Self.config(directory), directory: directory)
            for key in keys { ids[key] = try daemon.submit("flaky", directory.path, key, "hold=0.2") }
            // Some attempts running, some waiting to retry: 0.2 s runs, 0.3 s backoff, 4 workers.
            #expect(eventually { keys.filter { lines(directory.appendingPathComponent($0)).count >= 2 }.count >= 2 })
            daemon.signal(SIGKILL)
            #expect(daemon.waitForExit())
        }
        let restarted = try DaemonHarness(config: Self.config(directory), directory: directory)
        for key in keys {
            let result = try ended(restarted, ids[key]!)
            let runs = lines(directory.appendingPathComponent(key)).count
            let attempt = try #require(result.attempt)
            let history = result.attempts ?? []
            #expect(result.state == "finished", "\(key): \(result.state) \(String(describing: result.error))")
            #expect(history.map(\.attempt) == Array(1..<attempt), "\(key)")
            // An attempt the crash interrupted counts, whether or not its command got to write.
            let interrupted = history.filter { $0.error.code == "interrupted" }.count
            #expect(runs <= attempt && attempt - runs <= interrupted, "\(key): \(runs) runs, attempt \(attempt), \(interrupted) interrupted")
        }
        #expect(lines(directory.appendingPathComponent("overlaps")).isEmpty)
    }

    @Test("a queue's limit is never exceeded under load, while other queues run beside it")
    func queueLimitUnderLoad() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(at: directory) }
        let work = directory.appendingPathComponent("work")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let daemon = try DaemonHarness(config: Self.config(directory))
        var last = ""
        for index in 0..<40 {
            last = try daemon.submit("overlap", work.path)
            if index % 4 == 0 { _ = try daemon.submit("sleep", "0.05") }
        }
        _ = try ended(daemon, last)
        #expect(eventually { (try? daemon.ok(.status, as: StatusPayload.self)).map { $0.running == 0 && $0.pending == 0 } == true })
        let counts = lines(work.appendingPathComponent("counts")).compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        #expect(counts.count == 40 && counts.max() == 2, "\(counts)")
        let queues = try daemon.ok(.queues, as: QueuesPayload.self).queues
        #expect(queues.map(\.name) == ["default", "io"] && queues[1].maxRunning == 2 && queues[0].maxRunning == 4)
    }

    @Test("pybgctl pause holds a queue's tasks pending, across a restart; resume releases them")
    func pauseAndResume() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(at: directory) }
        let work = directory.appendingPathComponent("work")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        var held: [String] = []
        do {
            let daemon = try DaemonHarness(config: Self.config(directory), directory: directory)
            let paused = try PybgctlTests.pybgctl(["pause", "io"], socket: daemon.socketPath)
            #expect(paused.status == 0 && paused.stdout.contains("paused io"))
            for _ in 0..<3 { held.append(try daemon.submit("overlap", work.path)) }
            _ = try ended(daemon, try daemon.submit("noop"))
            #expect(try held.allSatisfy { try daemon.ok(.result(id: $0), as: FuturePayload.self).state == "pending" })
            let queues = try PybgctlTests.pybgctl(["queues"], socket: daemon.socketPath)
            #expect(queues.stdout.contains("io       0        2      3        paused"), "\(queues.stdout)")
            #expect(try daemon.send(.shutdown(wait: true)).isOK)
            #expect(daemon.waitForExit())
        }
        let restarted = try DaemonHarness(config: Self.config(directory), directory: directory)
        _ = try ended(restarted, try restarted.submit("noop"))
        #expect(try held.allSatisfy { try restarted.ok(.result(id: $0), as: FuturePayload.self).state == "pending" })
        #expect(try restarted.ok(.queues, as: QueuesPayload.self).queues.first { $0.name == "io" }?.paused == true)
        #expect(try PybgctlTests.pybgctl(["resume", "io"], socket: restarted.socketPath).status == 0)
        #expect(try held.allSatisfy { try ended(restarted, $0).state == "finished" })
    }

    @Test("priorities: with one worker, higher runs first and equal priorities in submission order")
    func priorities() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(at: directory) }
        let daemon = try DaemonHarness(config: "scheduler: {max_workers: 1, keep_finished: null}")
        let blocker = try daemon.submit("sleep", "0.5")
        var ids: [(String, Int)] = []
        for priority in [0, 5, -3, 5, 10, 0] {
            ids.append((try submit(daemon, SubmitOptions(priority: priority), "noop").id, priority))
        }
        _ = try ended(daemon, blocker)
        let starts = try ids.map { id, priority in (try ended(daemon, id).startedAt ?? 0, priority, id) }
        let order = starts.sorted { $0.0 < $1.0 }.map(\.1)
        #expect(order == [10, 5, 5, 0, 0, -3])
        let fives = starts.filter { $0.1 == 5 }.sorted { $0.0 < $1.0 }.map(\.2)
        #expect(fives == ids.filter { $0.1 == 5 }.map(\.0))
    }

    @Test("--after chains run in order; a failure cancels what follows with dependency-failed naming it; unknown ids are refused")
    func dependencies() throws {
        let daemon = try DaemonHarness(config: Self.config(try TemporaryDirectory.make()))
        let first = try daemon.submit("sleep", "0.3")
        let second = try PybgctlTests.pybgctl(["submit", "noop", "--after", String(first.prefix(8))], socket: daemon.socketPath)
        #expect(second.status == 0)
        let secondID = second.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try daemon.ok(.result(id: secondID), as: FuturePayload.self).state == "waiting")
        #expect(try ended(daemon, secondID).state == "finished")
        #expect(try ended(daemon, first).endedAt! <= (try ended(daemon, secondID).startedAt!))

        let failing = try daemon.submit("fail")
        let dependent = try submit(daemon, SubmitOptions(after: [failing]), "noop").id
        let further = try submit(daemon, SubmitOptions(after: [dependent, first]), "noop").id
        let cancelled = try ended(daemon, further)
        #expect(try ended(daemon, dependent).error?.code == "dependency-failed")
        #expect(try ended(daemon, dependent).error?.message.contains("\(failing) failed") == true)
        #expect(cancelled.state == "cancelled" && cancelled.error?.code == "dependency-failed" && cancelled.error?.message.contains(dependent) == true)
        let unknown = try daemon.send(.submit(task: "noop", arguments: [], options: SubmitOptions(after: ["abcdef0123"])))
        #expect(unknown.errorCode == .unknownID)
    }

    @Test("16 clients submitting one unique key at once make exactly one task; the others get its id, flagged existing")
    func uniqueRace() throws {
        let daemon = try DaemonHarness(config: "scheduler: {max_workers: 2, keep_finished: null}")
        let replies = Mutex<[SubmitPayload]>([])
        let start = Gate()
        let socket = daemon.socketPath
        let threads = (0..<16).map { _ in
            let done = Gate()
            Thread.detachNewThread {
                start.wait()
                let request = Request.submit(task: "sleep", arguments: ["1"], options: SubmitOptions(unique: "nightly"))
                if case .ok(let json)? = try? ControlConnection(path: socket).send(request),
                    let reply = try? ProtocolJSON.decode(SubmitPayload.self, from: json)
                {
                    replies.withLock { $0.append(reply) }
                }
                done.open()
            }
            return done
        }
        start.open()
        for done in threads { done.wait() }
        let all = replies.withLock { $0 }
        #expect(all.count == 16)
        #expect(Set(all.map(\.id)).count == 1)
        #expect(all.filter { $0.existing == true }.count == 15)
        #expect(try daemon.ok(.tasks(limit: .all), as: TasksPayload.self).total == 1)
        // Free again once the holder ends.
        _ = try ended(daemon, all[0].id)
        let again = try submit(daemon, SubmitOptions(unique: "nightly"), "noop")
        #expect(again.existing == nil && again.id != all[0].id)
    }

    @Test("kill of a command that ignores SIGTERM: SIGKILL follows, it ends cancelled with who asked; a short kill grace reports still-running first")
    func killStubbornCommand() throws {
        let daemon = try DaemonHarness(config: Self.config(try TemporaryDirectory.make()))
        let id = try daemon.submit("stubborn")
        #expect(eventually { (try? daemon.ok(.result(id: id), as: FuturePayload.self).state) == "running" })
        usleep(200_000)  // the shell sets its trap first
        // The kill grace is 1 s; SIGKILL comes 2 s after SIGTERM.
        let early = try PybgctlTests.pybgctl(["kill", id], socket: daemon.socketPath)
        #expect(early.status == 8 && early.stderr.contains("still runs"), "\(early.stderr)")
        let result = try ended(daemon, id, timeout: 30)
        #expect(result.state == "cancelled" && result.error?.code == "killed" && result.error?.message.contains("uid \(getuid())") == true)
        let again = try PybgctlTests.pybgctl(["kill", id], socket: daemon.socketPath)
        #expect(again.status == 6)
        // A sleeping built-in wakes at once.
        let sleeper = try daemon.submit("sleep", "60")
        #expect(eventually { (try? daemon.ok(.result(id: sleeper), as: FuturePayload.self).state) == "running" })
        let killed = try daemon.ok(.kill(id: sleeper), as: FuturePayload.self)
        #expect(killed.state == "cancelled" && killed.error?.code == "killed")
    }

    @Test("retry runs an ended task again as a new task naming the old; clean ID removes chosen ended tasks only")
    func retryAndRemove() throws {
        let daemon = try DaemonHarness(config: Self.config(try TemporaryDirectory.make()))
        let failed = try daemon.submit("fail")
        _ = try ended(daemon, failed)
        let rerun = try PybgctlTests.pybgctl(["retry", failed], socket: daemon.socketPath)
        #expect(rerun.status == 0)
        let newID = rerun.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let again = try ended(daemon, newID)
        #expect(newID != failed && again.flow?.retryOf == failed && again.name == "fail")
        let pending = try daemon.submit("sleep", "2")
        let refused = try PybgctlTests.pybgctl(["clean", failed, pending], socket: daemon.socketPath)
        #expect(refused.status == 6)
        let removed = try daemon.ok(.remove(ids: [failed, String(newID.prefix(10))]), as: RemovePayload.self)
        #expect(Set(removed.removed) == [failed, newID])
        #expect(try daemon.send(.result(id: failed)).errorCode == .unknownID)
        #expect(try daemon.ok(.result(id: pending), as: FuturePayload.self).state != "cancelled")
    }

    @Test("retrying, waiting and unique keys outlive a restart: the next attempt keeps its history, the key stays held")
    func flowSurvivesRestart() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(at: directory) }
        let slow = "\n  - name: slowfail\n    argv: [\"false\"]\n    retry: {max_attempts: 2, backoff: fixed, base: 3s, jitter: 0}"
        let config = Self.config(directory).replacingOccurrences(
            of: "  - name: fail\n    argv: [\"false\"]", with: "  - name: fail\n    argv: [\"false\"]" + slow)
        let (retrying, later, waiting, keyed): (String, String, String, String)
        do {
            let daemon = try DaemonHarness(config: config, directory: directory)
            retrying = try daemon.submit("slowfail")
            #expect(eventually { (try? daemon.ok(.result(id: retrying), as: FuturePayload.self).state) == "retrying" })
            later = try submit(daemon, SubmitOptions(timing: .after(.seconds(2))), "noop").id
            waiting = try submit(daemon, SubmitOptions(after: [later]), "noop").id
            keyed = try submit(daemon, SubmitOptions(timing: .after(.seconds(3600)), unique: "k"), "noop").id
            #expect(try daemon.send(.shutdown(wait: true)).isOK)
            #expect(daemon.waitForExit())
        }
        let restarted = try DaemonHarness(config: config, directory: directory)
        let resumed = try restarted.ok(.result(id: retrying), as: FuturePayload.self)
        #expect(resumed.state == "retrying" && resumed.attempts?.count == 1 && resumed.retryAt != nil)
        #expect(try restarted.ok(.result(id: waiting), as: FuturePayload.self).state == "waiting")
        let repeatKey = try submit(restarted, SubmitOptions(unique: "k"), "noop")
        #expect(repeatKey.existing == true && repeatKey.id == keyed)
        let final = try ended(restarted, retrying)
        #expect(final.state == "failed" && final.attempt == 2 && final.attempts?.count == 1)
        #expect(try ended(restarted, waiting).state == "finished")
    }
}
