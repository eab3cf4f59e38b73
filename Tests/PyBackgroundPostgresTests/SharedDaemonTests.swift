import Foundation
import Logging
import PostgresNIO
import PyBackgroundPostgres
import PyBackgroundProtocol
import PyBackgroundTesting
import Testing

/// Several real pybgd processes on one real PostgreSQL database, driven over their sockets; the
/// database itself is read to check what ran where and how it ended.
@Suite("Several pybgd hosts sharing one PostgreSQL store", .serialized)
struct SharedDaemonTests {
    static let logger = Logger(label: "test")

    /// A host's configuration: `record` appends its key to `{dir}/runs` (one line per run);
    /// `hold` appends to `{dir}/starts`, sleeps, then to `{dir}/ends`, and prints the host's name;
    /// `hold-once` does the same and is not retry-safe; `flaky` appends to `{dir}/starts` and
    /// fails, to be tried again an hour later; `talk` writes a line, sleeps, writes another and one
    /// to stderr; `overlap` counts the io queue's tasks
    /// running at once, across hosts, into `{dir}/counts`.
    static func config(url: String, host: String, lease: Double = 2, workers: Int = 2, extra: String = "") -> String {
        """
        scheduler: {max_workers: \(workers), keep_finished: null}
        state: {store: postgresql, url: "\(url)", host_name: \(host), lease_seconds: \(lease), poll_seconds: 0.5, prefetch: 4}
        shutdown: {timeout_seconds: 5}
        queues:
          io: {max_running: 2}
        tasks:
          - name: record
            argv: ["sh", "-c", "echo {key} >> {dir}/runs"]
            parameters:
              - {name: dir, type: string}
              - {name: key, type: string}
          - name: hold
            argv: ["sh", "-c", "echo {key} >> {dir}/starts; sleep {seconds}; echo {key} >> {dir}/ends; echo $WHO"]
            parameters:
              - {name: dir, type: string}
              - {name: key, type: string}
              - {name: seconds, type: double}
            environment: {WHO: \(host)}
            retry_if_interrupted: true
          - name: hold-once
            argv: ["sh", "-c", "echo {key} >> {dir}/starts; sleep {seconds}; echo {key} >> {dir}/ends"]
            parameters:
              - {name: dir, type: string}
              - {name: key, type: string}
              - {name: seconds, type: double}
          - name: flaky
            argv: ["sh", "-c", "echo {key} >> {dir}/starts; exit 3"]
            parameters:
              - {name: dir, type: string}
              - {name: key, type: string}
            retry: {max_attempts: 3, backoff: fixed, base: 1h, max_delay: 1h}
          - name: talk
            argv: ["sh", "-c", "echo one; sleep {seconds}; echo two; echo err >&2"]
            parameters:
              - {name: seconds, type: double}
          - name: overlap
            argv: ["sh", "-c", "touch {dir}/run.$$; ls {dir} | grep -c '^run\\\\.' >> {dir}/counts; sleep 0.1; rm {dir}/run.$$"]
            parameters:
              - {name: dir, type: string}
            queue: io
        \(extra)
        """
    }

    /// A cluster and `count` daemons on it (`host-1`…), each in a directory of its own.
    static func withHosts<Value>(
        _ count: Int, lease: Double = 2, extra: String = "",
        _ body: (TemporaryPostgres, [DaemonHarness], URL) async throws -> Value
    ) async throws -> Value {
        try await TemporaryPostgres.with { postgres in
            let shared = try TemporaryDirectory.make()
            defer { try? FileManager.default.removeItem(at: shared) }
            let url = postgres.url()
            var daemons: [DaemonHarness] = []
            for index in 1...count {
                daemons.append(try start(url: url, host: "host-\(index)", lease: lease, extra: extra))
            }
            return try await body(postgres, daemons, shared)
        }
    }

    /// A cluster, a directory for the tasks, an asking host (`host-1`, which registers none of the
    /// config's tasks: every task runs on the other) and a running host (`host-2`).
    static func withAskerAndRunner<Value>(
        askerConfig: String = "", _ body: (TemporaryPostgres, _ asker: DaemonHarness, _ runner: DaemonHarness, URL) async throws -> Value
    ) async throws -> Value {
        try await TemporaryPostgres.with { postgres in
            let shared = try TemporaryDirectory.make()
            defer { try? FileManager.default.removeItem(at: shared) }
            let url = postgres.url()
            let asker = try DaemonHarness(
                config: "state: {store: postgresql, url: \"\(url)\", host_name: host-1, poll_seconds: 0.5}\n\(askerConfig)",
                arguments: ["--state", url])
            let runner = try start(url: url, host: "host-2")
            return try await body(postgres, asker, runner, shared)
        }
    }

    static func start(url: String, host: String, lease: Double = 2, extra: String = "") throws -> DaemonHarness {
        try DaemonHarness(config: config(url: url, host: host, lease: lease, extra: extra), arguments: ["--state", url])
    }

    static func connect(_ postgres: TemporaryPostgres) async throws -> PostgresConnection {
        let settings = try PostgresSettings.parse(url: postgres.url())
        return try await PostgresConnection.connect(configuration: try settings.connectionConfiguration(), id: 99, logger: logger)
    }

    /// Polls `condition` until it holds, at most `timeout`.
    static func until(
        timeout: Duration = .seconds(60), interval: Duration = .milliseconds(50), _ condition: () async throws -> Bool
    ) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: interval)
        }
        return try await condition()
    }

    static func count(_ sql: String, _ connection: PostgresConnection) async throws -> Int {
        try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).collect().first?.decode(Int.self) ?? -1
    }

    /// What the tasks' rows say, for a failure's message.
    static func stateDump(_ connection: PostgresConnection) async throws -> String {
        try await connection.query(
            "SELECT state, coalesce(host, '-'), count(*)::bigint FROM pybgd_tasks GROUP BY 1, 2 ORDER BY 1, 2", logger: logger
        ).collect().map { row in
            let (state, host, count) = try row.decode((String, String, Int).self)
            return "\(state) on \(host): \(count)"
        }.joined(separator: ", ")
    }

    /// The daemons' logs, for a failure's message: each is stopped to read its whole log.
    static func logs(_ daemons: [DaemonHarness]) -> String {
        daemons.enumerated().map { index, daemon in
            daemon.signal(SIGTERM)
            _ = daemon.waitForExit(timeout: 20)
            return "host-\(index + 1):\n\(daemon.log)"
        }.joined(separator: "\n")
    }

    static func isOK(_ response: Response) -> Bool {
        if case .ok = response { true } else { false }
    }

    static func lines(_ file: URL) -> [String] {
        ((try? String(contentsOf: file, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    @Test("refused at start with what is wrong: an every: schedule without start: (exit 78), a database that cannot be reached (exit 74)")
    func refusedAtStart() throws {
        let url = "postgres://nobody@/none?host=/nonexistent-pybgd-directory"
        let loose = try DaemonHarness(
            config: "schedules:\n  - {name: beat, task: noop, every: 10s}", arguments: ["--state", url], waitForAnswer: false)
        #expect(loose.waitForExit(timeout: 30))
        #expect(loose.process.terminationStatus == 78)
        #expect(loose.log.contains("schedules.beat: every: on a shared store") && loose.log.contains("needs start:"), "\(loose.log)")
        let away = try DaemonHarness(config: "", arguments: ["--state", url], waitForAnswer: false)
        #expect(away.waitForExit(timeout: 60))
        #expect(away.process.terminationStatus == 74)
        #expect(away.log.contains("cannot connect to PostgreSQL"), "\(away.log)")
    }

    @Test("a burst submitted across three daemons runs each task exactly once, on several hosts")
    func burstRunsOnce() async throws {
        try await Self.withHosts(3) { postgres, daemons, shared in
            var ids: [String] = []
            for index in 0..<300 {
                ids.append(try daemons[index % 3].submit("record", shared.path, "k\(index)"))
            }
            #expect(Set(ids).count == 300)
            let connection = try await Self.connect(postgres)
            defer { Task { try? await connection.close() } }
            #expect(try await Self.until { try await Self.count("SELECT count(*) FROM pybgd_tasks WHERE state = 'finished'", connection) == 300 })
            let runs = Self.lines(shared.appendingPathComponent("runs"))
            #expect(runs.count == 300)
            #expect(Set(runs) == Set((0..<300).map { "k\($0)" }))
            let hosts = try await Self.count("SELECT count(DISTINCT host) FROM pybgd_tasks", connection)
            #expect(hosts >= 2, "the work spread over the hosts")
            // Every host shows in the heartbeats, and in each host's STATUS.
            #expect(try await Self.until { try await Self.count("SELECT count(*) FROM pybgd_hosts", connection) == 3 })
            #expect(eventually { (try? daemons[0].ok(.status, as: StatusPayload.self).cluster?.hosts.count) == 3 })
            // Any host answers RESULT and WAIT for any task, whichever host ran it; a prefix will do.
            for (index, id) in ids.prefix(9).enumerated() {
                let asker = daemons[(index + 1) % 3]
                let ended = try asker.ok(.wait(id: id, timeout: 30), as: FuturePayload.self)
                #expect(ended.id == id && ended.state == "finished" && ended.name == "record")
                #expect(ended.args == [.string(shared.path), .string("k\(index)")])
                let result = try asker.ok(.result(id: String(id.prefix(12))), as: FuturePayload.self)
                #expect(result.id == id && result.state == "finished")
                if let host = result.host { #expect(host.hasPrefix("host-")) }
            }
            #expect(throws: (any Error).self) { try daemons[0].ok(.result(id: "0123456789abcdef0123456789abcdef"), as: FuturePayload.self) }
            // The real pybgctl shows the cluster, and waits on one host for a task of another.
            let status = try Self.pybgctl(["status", "--limit", "0"], socket: daemons[1].socketPath)
            #expect(status.contains("cluster: 3 hosts") && status.contains("host-1: ") && status.contains("workers, heard"), "\(status)")
            let waited = try Self.pybgctl(["wait", ids[1], "--json"], socket: daemons[2].socketPath)
            #expect(waited.contains("\"state\":\"finished\""), "\(waited)")
            // TASKS, FUTURES and LATEST on any host show the cluster's table, with who ran each.
            let recent = try daemons[1].ok(.futures(limit: .mostRecent(10)), as: FuturesPayload.self)
            #expect(recent.total == 300 && recent.futures.map(\.id) == Array(ids.suffix(10)))
            #expect(recent.futures.allSatisfy { $0.state == "finished" && $0.host?.hasPrefix("host-") == true })
            let tasks = try daemons[2].ok(.tasks(limit: .all), as: TasksPayload.self)
            #expect(tasks.total == 300 && tasks.tasks.map(\.id) == ids && tasks.tasks[7].args == [.string(shared.path), .string("k7")])
            #expect(try daemons[0].ok(.latest, as: LatestPayload.self).latestID == ids.last)
            let table = try Self.pybgctl(["futures", "--limit", "3"], socket: daemons[0].socketPath)
            #expect(table.contains("HOST") && table.contains("host-") && table.contains("(3 of 300"), "\(table)")
            // A unique key holds across hosts: another host's submission gets the holder, existing.
            var unique = SubmitOptions()
            unique.unique = "nightly"
            let holder = try daemons[0].ok(.submit(task: "hold", arguments: [shared.path, "u", "30"], options: unique), as: SubmitPayload.self)
            #expect(holder.existing == nil)
            let again = try daemons[2].ok(.submit(task: "hold", arguments: [shared.path, "u2", "1"], options: unique), as: SubmitPayload.self)
            #expect(again.id == holder.id && again.existing == true && ["pending", "running"].contains(again.state ?? ""), "\(again)")
            #expect(try daemons[1].ok(.kill(id: holder.id), as: FuturePayload.self).state == "cancelled")
            let free = try daemons[2].ok(.submit(task: "hold", arguments: [shared.path, "u3", "0"], options: unique), as: SubmitPayload.self)
            #expect(free.id != holder.id && free.existing == nil)
        }
    }

    /// Runs the real pybgctl against `socket`; its standard output (and error, after it).
    static func pybgctl(_ arguments: [String], socket: String) throws -> String {
        let process = Process()
        process.executableURL = DaemonHarness.productDirectory.appendingPathComponent("pybgctl")
        process.arguments = ["--socket", socket] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    @Test("WAIT on one host for a task another host runs returns once it ended, or times out naming its state")
    func waitAcrossHosts() async throws {
        try await Self.withAskerAndRunner { _, first, second, shared in
            let id = try second.submit("hold", shared.path, "w", "1")
            switch try first.send(.wait(id: id, timeout: 0.2)) {
            case .error(let code, let message): #expect(code == .timedOut && message.contains("it is"), "\(message)")
            case .ok(let json): Issue.record("WAIT answered before the task ended: \(json)")
            }
            let ended = try first.ok(.wait(id: id, timeout: 30), as: FuturePayload.self)
            #expect(ended.state == "finished" && ended.host == "host-2")
            #expect(ended.result.map { "\($0)" }?.contains("host-2") == true)
            #expect(ended.startedAt != nil || ended.endedAt != nil)
            _ = second
        }
    }

    @Test("CANCEL and KILL on one host stop a task another host holds, or that no host holds yet; CANCEL leaves a started run alone")
    func stopAcrossHosts() async throws {
        // host-2 (2 workers, prefetch 4) runs every task; every stop is asked on host-1.
        try await Self.withAskerAndRunner { postgres, first, second, shared in
            // Its first attempt fails at once; host-2 holds it for the next, an hour later.
            let retrying = try second.submit("flaky", shared.path, "f")
            #expect(eventually { (try? first.ok(.result(id: retrying), as: FuturePayload.self).state) == "retrying" })
            let running = [try second.submit("hold", shared.path, "r1", "60"), try second.submit("hold", shared.path, "r2", "60")]
            #expect(eventually { Set(Self.lines(shared.appendingPathComponent("starts"))) == ["f", "r1", "r2"] })
            let waiting = try second.submit("hold", shared.path, "w", "60")
            var later = SubmitOptions()
            later.timing = .after(.seconds(3600))
            let scheduled = try second.ok(.submit(task: "hold", arguments: [shared.path, "s", "1"], options: later), as: SubmitPayload.self).id

            // CANCEL of a run that started: refused, naming where it runs; it runs on.
            switch try first.send(.cancel(id: running[0])) {
            case .error(let code, let message): #expect(code == .notPending && message.contains("host-2"), "\(message)")
            case .ok(let json): Issue.record("a started run was cancelled: \(json)")
            }
            #expect(try first.ok(.result(id: running[0]), as: FuturePayload.self).state == "running")
            // CANCEL of a task waiting for a worker of host-2 (claimed by it or not): cancelled.
            let cancelled = try first.ok(.cancel(id: String(waiting.prefix(10))), as: FuturePayload.self)
            #expect(cancelled.id == waiting && cancelled.state == "cancelled", "\(cancelled)")
            // CANCEL of a task host-2 holds between attempts: host-2 cancels it.
            let unretried = try first.ok(.cancel(id: retrying), as: FuturePayload.self)
            #expect(unretried.state == "cancelled" && unretried.host == "host-2", "\(unretried)")
            // CANCEL of a task no host holds: cancelled in the store at once.
            let unheld = try first.ok(.cancel(id: scheduled), as: FuturePayload.self)
            #expect(unheld.state == "cancelled" && unheld.error?.code == "cancelled", "\(unheld)")
            let connection = try await Self.connect(postgres)
            defer { Task { try? await connection.close() } }
            // KILL of a run on host-2, through the real pybgctl on host-1: it ends cancelled, killed.
            let killing = ContinuousClock.now
            let killed = try Self.pybgctl(["kill", running[1], "--json"], socket: first.socketPath)
            #expect(ContinuousClock.now - killing < .seconds(10), "answered within the kill grace")
            #expect(killed.contains("\"state\":\"cancelled\"") && killed.contains("killed by uid"), "\(killed)")
            #expect(killed.contains("host-1"), "the record says which host it was asked on: \(killed)")
            #expect(!Self.lines(shared.appendingPathComponent("ends")).contains("r2"))
            // KILL of an ended task: refused; the other run is killed as well.
            switch try first.send(.kill(id: running[1])) {
            case .error(let code, _): #expect(code == .alreadyEnded)
            case .ok(let json): Issue.record("killed twice: \(json)")
            }
            #expect(try first.ok(.kill(id: running[0]), as: FuturePayload.self).state == "cancelled")
            let states = try await connection.query(
                "SELECT state, count(*) FROM pybgd_tasks GROUP BY state", logger: Self.logger
            ).collect().map { try $0.decode((String, Int).self) }
            #expect(states.count == 1 && states.first?.0 == "cancelled" && states.first?.1 == 5, "\(states)")
            #expect(Self.lines(shared.appendingPathComponent("starts")).sorted() == ["f", "r1", "r2"])
            _ = second
        }
    }

    @Test("after= across hosts: a task submitted on one host waits for prerequisites submitted on another, runs once they finished, is cancelled if one failed")
    func dependenciesAcrossHosts() async throws {
        try await Self.withHosts(2) { postgres, daemons, shared in
            let first = try daemons[1].submit("hold", shared.path, "p", "0.5")
            var after = SubmitOptions()
            after.after = [String(first.prefix(10))]
            let dependent = try daemons[0].ok(.submit(task: "record", arguments: [shared.path, "d"], options: after), as: SubmitPayload.self).id
            #expect(try daemons[1].ok(.result(id: dependent), as: FuturePayload.self).state == "waiting")
            // A prerequisite that fails (its directory does not exist): its dependent never runs.
            let failing = try daemons[0].submit("record", "/nonexistent-pybgd-directory", "x")
            after.after = [failing]
            let doomed = try daemons[1].ok(.submit(task: "record", arguments: [shared.path, "never"], options: after), as: SubmitPayload.self).id
            let ended = try daemons[0].ok(.wait(id: dependent, timeout: 30), as: FuturePayload.self)
            #expect(ended.state == "finished")
            let cancelled = try daemons[0].ok(.wait(id: doomed, timeout: 30), as: FuturePayload.self)
            #expect(cancelled.state == "cancelled" && cancelled.error?.code == "dependency-failed", "\(cancelled)")
            #expect(Self.lines(shared.appendingPathComponent("runs")) == ["d"])
            let connection = try await Self.connect(postgres)
            defer { Task { try? await connection.close() } }
            // It started only once its prerequisite had ended.
            let order = try await Self.count(
                """
                SELECT count(*) FROM pybgd_tasks AS d, pybgd_tasks AS p
                WHERE d.name = 'record' AND d.state = 'finished' AND p.name = 'hold' AND d.ended_at >= p.ended_at
                """, connection)
            #expect(order == 1)
            // A prerequisite no host knows is refused, naming it.
            after.after = ["0123456789abcdef"]
            switch try daemons[0].send(.submit(task: "record", arguments: [shared.path, "z"], options: after)) {
            case .error(let code, let message): #expect(code == .unknownID && message.contains("0123456789abcdef"), "\(message)")
            case .ok(let json): Issue.record("accepted after an unknown task: \(json)")
            }
        }
    }

    @Test("LOG and FOLLOW on one host of a task another host runs: its output as it grows, then whole, through the real pybgctl")
    func outputAcrossHosts() async throws {
        try await Self.withAskerAndRunner { _, first, second, _ in
            let id = try second.submit("talk", "3")
            // While it sleeps, host-1's LOG has its first line (copied within half a second).
            #expect(eventually { (try? Self.pybgctl(["log", id], socket: first.socketPath))?.contains("one") == true })
            #expect(try first.ok(.result(id: id), as: FuturePayload.self).state == "running")
            #expect(try Self.pybgctl(["log", id], socket: first.socketPath).contains("two") == false)
            // FOLLOW from host-1 goes on until it ends, with both streams, then its end.
            let followed = try Self.pybgctl(["follow", String(id.prefix(8))], socket: first.socketPath)
            #expect(followed.contains("one") && followed.contains("two") && followed.contains("err"), "\(followed)")
            #expect(followed.components(separatedBy: "one").count == 2, "each line once: \(followed)")
            #expect(try Self.pybgctl(["log", id], socket: first.socketPath) == "one\ntwo\n")
            #expect(try Self.pybgctl(["log", id, "--stderr"], socket: first.socketPath) == "err\n")
            switch try first.send(.log(id: "0123456789abcdef", streams: .all)) {
            case .error(let code, _): #expect(code == .unknownID)
            case .ok(let json): Issue.record("LOG of no task: \(json)")
            }
            _ = second
        }
    }

    @Test("max_pending counts the tasks waiting on every host: a host refuses once the cluster has that many, whoever submitted them")
    func maxPendingAcrossHosts() async throws {
        try await TemporaryPostgres.with { postgres in
            let shared = try TemporaryDirectory.make()
            defer { try? FileManager.default.removeItem(at: shared) }
            let url = postgres.url()
            let hosts = try (1...2).map { index in
                try DaemonHarness(
                    config: Self.config(url: url, host: "host-\(index)").replacingOccurrences(
                        of: "keep_finished: null}", with: "keep_finished: null, max_pending: 6}"),
                    arguments: ["--state", url])
            }
            #expect(Self.isOK(try hosts[0].send(.pauseQueue("io"))))
            for _ in 0..<6 { _ = try hosts[0].submit("overlap", shared.path) }
            // host-2 learns the count at its next renewal (every third of the 2 s lease); then its
            // first submission is refused, though it accepted none itself.
            #expect(eventually { (try? hosts[1].ok(.status, as: StatusPayload.self).cluster?.tasks["pending"]) == 6 })
            switch try hosts[1].send(.submit(task: "overlap", arguments: [shared.path], options: SubmitOptions())) {
            case .error(let code, let message): #expect(code == .queueFull && message.contains("6 tasks are waiting"), "\(message)")
            case .ok(let json): Issue.record("host-2 accepted past the cluster's max_pending: \(json)")
            }
            switch try hosts[0].send(.submit(task: "overlap", arguments: [shared.path], options: SubmitOptions())) {
            case .error(let code, let message): #expect(code == .queueFull && message.contains("max_pending"), "\(message)")
            case .ok(let json): Issue.record("a seventh task was accepted: \(json)")
            }
        }
    }

    @Test("ticks missed while every host was down are made up by the schedule's misfire policy, from the store's progress")
    func misfireAfterClusterDowntime() async throws {
        let extra = """
            schedules:
              - {name: beat, task: noop, cron: "* * * * * *", misfire: "all:100"}
            """
        try await TemporaryPostgres.with { postgres in
            let url = postgres.url()
            let connection = try await Self.connect(postgres)
            defer { Task { try? await connection.close() } }
            let first = try Self.start(url: url, host: "host-1", extra: extra)
            #expect(try await Self.until { try await Self.count("SELECT count(*) FROM pybgd_tasks", connection) >= 2 })
            first.signal(SIGTERM)
            #expect(first.waitForExit(timeout: 30))
            let stopped = try await Self.count("SELECT count(*) FROM pybgd_tasks", connection)
            // The whole cluster is down for some ticks: real seconds must pass.
            try await Task.sleep(for: .seconds(3))
            let again = try Self.start(url: url, host: "host-1", extra: extra)
            #expect(try await Self.until { try await Self.count("SELECT count(*) FROM pybgd_tasks", connection) >= stopped + 5 })
            // Every second from the first tick to the last has its task, once: the missed ones too.
            let ticks = try await connection.query(
                "SELECT (record->>'tick')::double precision FROM pybgd_tasks ORDER BY 1", logger: Self.logger
            ).collect().map { try $0.decode(Double.self) }
            #expect(Set(ticks).count == ticks.count, "\(ticks)")
            #expect(ticks.count == Int((ticks.last ?? 0) - (ticks.first ?? 0)) + 1, "a tick is missing: \(ticks)")
            _ = again
        }
    }

    @Test(
        "a schedule added at run time on one host is the cluster's: every host follows it, each tick fires once, and it is paused, resumed and removed from any host"
    )
    func runtimeScheduleAcrossHosts() async throws {
        try await Self.withHosts(2) { postgres, daemons, _ in
            let connection = try await Self.connect(postgres)
            defer { Task { try? await connection.close() } }
            let spec = try ScheduleSpec.parse(["cron=* * * * * *", "noop"])
            _ = try daemons[0].ok(.schedule(.add(name: "beat", spec: spec)), as: SchedulePayload.self)
            // The other host follows it at its next renewal.
            #expect(eventually { (try? daemons[1].ok(.schedule(.show(name: "beat")), as: SchedulePayload.self).origin) == "runtime" })
            // A second host adding the same name is refused.
            switch try daemons[1].send(.schedule(.add(name: "beat", spec: spec))) {
            case .error(_, let message): #expect(message.contains("exists"), "\(message)")
            case .ok(let json): Issue.record("added twice: \(json)")
            }
            #expect(try await Self.until { try await Self.count("SELECT count(*) FROM pybgd_tasks WHERE state = 'finished'", connection) >= 4 })
            // Paused on the host that did not add it: the first host stops firing too.
            _ = try daemons[1].ok(.schedule(.pause(name: "beat")), as: SchedulePayload.self)
            #expect(eventually { (try? daemons[0].ok(.schedule(.show(name: "beat")), as: SchedulePayload.self).paused) == true })
            let paused = try await Self.count("SELECT count(*) FROM pybgd_tasks", connection)
            // Nothing fires while paused: this waits two ticks to see nothing come.
            try await Task.sleep(for: .seconds(2))
            #expect(try await Self.count("SELECT count(*) FROM pybgd_tasks", connection) <= paused + 1)
            _ = try daemons[0].ok(.schedule(.resume(name: "beat")), as: SchedulePayload.self)
            #expect(try await Self.until { try await Self.count("SELECT count(*) FROM pybgd_tasks", connection) >= paused + 3 })
            // Removed on the second host: gone from the first, and nothing fires any more.
            _ = try daemons[1].ok(.schedule(.remove(name: "beat")), as: SchedulePayload.self)
            #expect(eventually { if case .error(.unknownID, _)? = try? daemons[0].send(.schedule(.show(name: "beat"))) { true } else { false } })
            let repeated = try await Self.count(
                "SELECT count(*) FROM (SELECT record->>'tick' FROM pybgd_tasks GROUP BY 1 HAVING count(*) > 1) AS t", connection)
            #expect(repeated == 0, "a tick fired twice")
            #expect(try await Self.count("SELECT count(DISTINCT host) FROM pybgd_tasks WHERE host IS NOT NULL", connection) >= 1)
        }
    }

    @Test("the dashboard on one host pages the whole cluster's tasks, with the host that ran each, and shows their output")
    func dashboardShowsCluster() async throws {
        let port = try HTTPProbe.freePort()
        // host-1 serves the dashboard and runs nothing of these: host-2 runs them.
        try await Self.withAskerAndRunner(askerConfig: "http: {listen: \"127.0.0.1:\(port)\"}") { _, first, second, shared in
            let ids = try (0..<5).map { try second.submit("record", shared.path, "d\($0)") }
            for id in ids { _ = try first.ok(.wait(id: id, timeout: 30), as: FuturePayload.self) }
            struct Page: Decodable {
                var futures: [FuturePayload]
                var total: Int
            }
            let (status, body) = try HTTPProbe.get("http://127.0.0.1:\(port)/api/tasks?limit=3")
            #expect(status == 200)
            let page = try JSONDecoder().decode(Page.self, from: Data(body.utf8))
            #expect(page.total == 5 && page.futures.map(\.id) == Array(ids.reversed().prefix(3)), "\(body)")
            #expect(page.futures.allSatisfy { $0.host == "host-2" })
            let finished = try JSONDecoder().decode(
                Page.self, from: Data(try HTTPProbe.get("http://127.0.0.1:\(port)/api/tasks?state=finished&offset=4").body.utf8))
            #expect(finished.total == 5 && finished.futures.map(\.id) == [ids[0]])
            let failed = try JSONDecoder().decode(Page.self, from: Data(try HTTPProbe.get("http://127.0.0.1:\(port)/api/tasks?state=failed").body.utf8))
            #expect(failed.total == 0 && failed.futures.isEmpty)
            // A task's output, kept by the host that ran it, shows on this host's dashboard too.
            let talker = try second.submit("hold", shared.path, "o", "0")
            _ = try first.ok(.wait(id: talker, timeout: 30), as: FuturePayload.self)
            let output = try HTTPProbe.get("http://127.0.0.1:\(port)/api/tasks/\(talker)/output")
            #expect(output.status == 200 && output.body == "host-2\n", "\(output)")
            #expect(try HTTPProbe.get("http://127.0.0.1:\(port)/api/tasks/0123456789abcdef0123456789abcdef/output").status == 404)
            _ = second
        }
    }

    @Test("SIGKILL of one daemon mid-load: every acknowledged task ends once by its policy, rescued within lease + one renewal")
    func killedHostIsRescued() async throws {
        try await Self.withHosts(3, lease: 2) { postgres, daemons, shared in
            var safe: [String] = []
            var once: [String] = []
            for index in 0..<24 {
                safe.append(try daemons[index % 3].submit("hold", shared.path, "s\(index)", "0.5"))
                once.append(try daemons[index % 3].submit("hold-once", shared.path, "o\(index)", "0.5"))
            }
            let connection = try await Self.connect(postgres)
            defer { Task { try? await connection.close() } }
            // Kill host-1 while it runs a task that is not retry-safe (its start is recorded).
            #expect(
                try await Self.until(timeout: .seconds(30), interval: .milliseconds(5)) {
                    try await Self.count(
                        "SELECT count(*) FROM pybgd_tasks WHERE host = 'host-1' AND state = 'running' AND started_at IS NOT NULL", connection)
                        >= 1
                })
            daemons[0].signal(SIGKILL)
            let killed = ContinuousClock.now
            #expect(daemons[0].waitForExit(timeout: 10))
            #expect(
                try await Self.until {
                    try await Self.count("SELECT count(*) FROM pybgd_tasks WHERE host = 'host-1' AND state = 'running'", connection) == 0
                })
            let rescuedAfter = ContinuousClock.now - killed
            // Lease 2 s, renewed every 0.67 s: expired at most 2 s after the kill, rescued at the next upkeep.
            #expect(rescuedAfter < .seconds(2 + 0.67 + 3), "rescued after \(rescuedAfter)")
            #expect(try await Self.until { try await Self.count("SELECT count(*) FROM pybgd_tasks WHERE ended_at IS NULL", connection) == 0 })
            // Retry-safe tasks all finished; the others finished or, if host-1 died running them, were interrupted.
            #expect(try await Self.count("SELECT count(*) FROM pybgd_tasks WHERE name = 'hold' AND state = 'finished'", connection) == 24)
            let onceStates = try await connection.query(
                "SELECT state, count(*) FROM pybgd_tasks WHERE name = 'hold-once' GROUP BY state ORDER BY state", logger: Self.logger
            ).collect().map { try $0.decode((String, Int).self) }
            #expect(Set(onceStates.map(\.0)).isSubset(of: ["finished", "interrupted"]) && onceStates.map(\.1).reduce(0, +) == 24)
            // A task that is not retry-safe never started twice.
            let starts = Self.lines(shared.appendingPathComponent("starts")).filter { $0.hasPrefix("o") }
            #expect(starts.count == Set(starts).count)
            // Each interrupted one had started on host-1 and is not run again.
            let interrupted = try await Self.count("SELECT count(*) FROM pybgd_tasks WHERE state = 'interrupted'", connection)
            #expect(starts.count == 24 || interrupted > 0)
        }
    }

    @Test("a host paused past its lease (SIGSTOP, then SIGCONT) cannot write over its task's new run on another host")
    func pausedHostIsFencedOff() async throws {
        try await TemporaryPostgres.with { postgres in
            let shared = try TemporaryDirectory.make()
            defer { try? FileManager.default.removeItem(at: shared) }
            let url = postgres.url()
            let first = try Self.start(url: url, host: "host-1", lease: 1)
            let id = try first.submit("hold", shared.path, "f", "3")
            let connection = try await Self.connect(postgres)
            defer { Task { try? await connection.close() } }
            // Its body runs on host-1 (a retry-safe task records no start: its command's first line shows it).
            #expect(eventually { Self.lines(shared.appendingPathComponent("starts")) == ["f"] })
            first.signal(SIGSTOP)
            // Another host rescues the task once the lease ran out, and runs it to its end.
            let second = try Self.start(url: url, host: "host-2", lease: 1)
            #expect(
                try await Self.until {
                    try await Self.count("SELECT count(*) FROM pybgd_tasks WHERE host = 'host-2' AND state = 'finished'", connection) == 1
                })
            first.signal(SIGCONT)
            // The first host's run goes on (or is stopped); whatever it does, its writes are fenced off.
            #expect(eventually { (try? first.ok(.result(id: id), as: FuturePayload.self).state).map { $0 != "running" } ?? false })
            first.signal(SIGTERM)
            #expect(first.waitForExit(timeout: 30))
            let row = try await connection.query(
                "SELECT state, host, fence, outcome::text FROM pybgd_tasks", logger: Self.logger
            ).collect().map { try $0.decode((String, String, Int64, String).self) }
            #expect(row.count == 1)
            #expect(row.first?.0 == "finished" && row.first?.1 == "host-2" && row.first?.2 == 2)
            #expect(row.first?.3.contains("host-2") == true, "the new run's outcome: \(row.first?.3 ?? "")")
            #expect(first.log.contains("another host took") || first.log.contains("no longer holds"), "\(first.log)")
            _ = second
        }
    }

    @Test("PostgreSQL restarted mid-load: submissions meanwhile get store-failed, nothing acknowledged is lost")
    func databaseRestart() async throws {
        // A restart within a lease: one longer than the lease ends the running tasks by design (their
        // hosts cannot renew, and the first host to reach the database again rescues them:
        // `interrupted`). With the suite's 2 s lease, a restart on a loaded machine took longer.
        try await Self.withHosts(2, lease: 10) { postgres, daemons, shared in
            var acknowledged: [String] = []
            var refused = 0
            for index in 0..<40 {
                acknowledged.append(try daemons[index % 2].submit("record", shared.path, "a\(index)"))
            }
            try postgres.stopServer()
            for index in 40..<50 {
                switch try daemons[index % 2].send(.submit(task: "record", arguments: [shared.path, "b\(index)"], options: SubmitOptions())) {
                case .ok(let json): acknowledged.append(try ProtocolJSON.decode(SubmitPayload.self, from: json).id)
                case .error(let code, let message):
                    #expect(code == .storeFailed, "\(message)")
                    refused += 1
                }
            }
            #expect(refused == 10)
            let status = try daemons[0].ok(.status, as: StatusPayload.self)
            #expect(status.stateStore.contains("store down"), "\(status.stateStore)")
            try postgres.startServer()
            for index in 50..<60 {
                acknowledged.append(try daemons[index % 2].submit("record", shared.path, "c\(index)"))
            }
            let connection = try await Self.connect(postgres)
            defer { Task { try? await connection.close() } }
            let finished = try await Self.until { try await Self.count("SELECT count(*) FROM pybgd_tasks WHERE state = 'finished'", connection) == 50 }
            if !finished {
                let dump = try await Self.stateDump(connection)
                Issue.record("not all 50 finished: \(dump)\n\(Self.logs(daemons))")
            }
            #expect(try await Self.count("SELECT count(*) FROM pybgd_tasks", connection) == 50)
            #expect(Set(Self.lines(shared.appendingPathComponent("runs"))).count == 50)
            #expect(Self.lines(shared.appendingPathComponent("runs")).count == 50)
            #expect(eventually { (try? daemons[0].ok(.status, as: StatusPayload.self).stateStore.contains("down")) == false })
        }
    }

    @Test("a queue limit of 2 holds across three hosts")
    func queueLimitAcrossHosts() async throws {
        try await Self.withHosts(3) { postgres, daemons, shared in
            for index in 0..<30 { _ = try daemons[index % 3].submit("overlap", shared.path) }
            let connection = try await Self.connect(postgres)
            defer { Task { try? await connection.close() } }
            #expect(try await Self.until { try await Self.count("SELECT count(*) FROM pybgd_tasks WHERE state = 'finished'", connection) == 30 })
            let counts = Self.lines(shared.appendingPathComponent("counts")).compactMap { Int($0) }
            #expect(counts.count == 30)
            #expect(counts.max() ?? 0 <= 2, "\(counts)")
            #expect(counts.contains(2), "two ran at once at some point: \(counts)")
        }
    }

    @Test(
        "a queue paused on one host is paused on all, and its pending tasks leave the hosts idle; resumed on another, every host runs its tasks again"
    )
    func pauseAcrossHosts() async throws {
        try await Self.withHosts(2) { postgres, daemons, shared in
            #expect(Self.isOK(try daemons[0].send(.pauseQueue("io"))))
            for index in 0..<6 { _ = try daemons[index % 2].submit("overlap", shared.path) }
            let connection = try await Self.connect(postgres)
            defer { Task { try? await connection.close() } }
            let commits = "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
            let committedBefore = try await Self.count(commits, connection)
            // Paused: nothing of the queue is claimed, whichever host it was submitted to. What is
            // checked is that nothing happens, so this waits three of the hosts' polls (0.5 s each).
            try await Task.sleep(for: .seconds(1.5))
            #expect(try await Self.count("SELECT count(*) FROM pybgd_tasks WHERE state <> 'pending'", connection) == 0)
            // Idle meanwhile: renewals, heartbeats and polls only. Counting the paused queue's
            // tasks as due once had every host claim again at once, thousands of times a second
            // (the server reports a busy session's counts at least every second).
            let committed = try await Self.count(commits, connection) - committedBefore
            #expect(committed < 300, "\(committed) transactions in 1.5 s")
            // The other host sees the pause within a renewal.
            #expect(eventually { (try? daemons[1].ok(.queues, as: QueuesPayload.self).queues.first { $0.name == "io" }?.paused) == true })
            #expect(Self.isOK(try daemons[1].send(.resumeQueue("io"))))
            #expect(try await Self.until { try await Self.count("SELECT count(*) FROM pybgd_tasks WHERE state = 'finished'", connection) == 6 })
            #expect(eventually { (try? daemons[0].ok(.queues, as: QueuesPayload.self).queues.first { $0.name == "io" }?.paused) == false })
        }
    }

    @Test("a schedule configured on three hosts fires once per tick")
    func scheduleOncePerTick() async throws {
        let extra = """
            schedules:
              - {name: tick, task: noop, cron: "* * * * * *"}
            """
        try await Self.withHosts(3, extra: extra) { postgres, _, _ in
            let connection = try await Self.connect(postgres)
            defer { Task { try? await connection.close() } }
            #expect(try await Self.until { try await Self.count("SELECT count(*) FROM pybgd_tasks WHERE state = 'finished'", connection) >= 5 })
            let repeated = try await Self.count(
                "SELECT count(*) FROM (SELECT record->>'tick' FROM pybgd_tasks GROUP BY 1 HAVING count(*) > 1) AS t", connection)
            #expect(repeated == 0)
            let ticks = try await Self.count("SELECT count(DISTINCT record->>'tick') FROM pybgd_tasks", connection)
            let tasks = try await Self.count("SELECT count(*) FROM pybgd_tasks", connection)
            #expect(ticks == tasks)
        }
    }
}
