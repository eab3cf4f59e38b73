import Foundation
import PyBackgroundClient
import PyBackgroundProtocol
import PyBackgroundTesting
import Testing

/// pybgctl's exit statuses, replies and options agree with what its help and the docs say.
@Suite("pybgctl keeps its word", .serialized)
struct PybgctlContractTests {
    let daemon: DaemonHarness

    init() throws {
        daemon = try DaemonHarness(
            config: """
                scheduler: {max_workers: 1}
                shutdown: {timeout_seconds: 0.2}
                tasks:
                  - {name: echo, argv: [echo, "{message}"], parameters: [{name: message, type: string}]}
                  - {name: fail, argv: [sh, -c, "exit 4"]}
                """)
    }

    func run(_ arguments: String...) throws -> PybgctlTests.Run {
        try PybgctlTests.pybgctl(arguments, socket: daemon.socketPath)
    }

    @Test("latest before any task exits 5 with and without --json (which still prints the reply)")
    func latestBeforeAnyTask() throws {
        let plain = try run("latest")
        #expect(plain.status == 5 && plain.stdout.isEmpty && plain.stderr.contains("no task has been submitted yet"))
        let json = try run("latest", "--json")
        #expect(json.status == 5 && json.stdout == "{\"latest_id\":null}\n", "\(json)")
    }

    @Test("CANCEL of a task cancelled already is not-pending, as for any ended task")
    func cancelTwice() throws {
        _ = try daemon.submit("sleep", "30")
        let queued = try daemon.submit("noop")
        guard case .ok = try daemon.send(.cancel(id: queued)) else {
            Issue.record("the first cancel should succeed")
            return
        }
        guard case .error(.notPending, let message) = try daemon.send(.cancel(id: queued)) else {
            Issue.record("a second CANCEL should be not-pending")
            return
        }
        #expect(message.contains("is cancelled"), "\(message)")
        #expect(try run("cancel", queued).status == 6)
        // Its reason is said once, not after the code it repeats.
        let waited = try run("wait", queued)
        #expect(waited.status == 1)
        #expect(waited.stderr == "pybgctl: task \(queued) cancelled: task \(queued) was cancelled before it ran\n", "\(waited.stderr)")
    }

    @Test(
        "usage errors name the value: a negative --timeout is not a missing value",
        arguments: [
            (["wait", "abc", "--timeout", "-1"], "--timeout must be a number of seconds ≥ 0, got -1.0"),
            (["submit", "noop", "--wait", "--timeout", "-1"], "--timeout must be a number of seconds ≥ 0, got -1.0"),
            (["status", "--limit", "-3"], "--limit must be a number ≥ 0, got -3"),
            (["status", "--timeout", "-2"], "--timeout must be a number of seconds ≥ 0 (0: no limit), got -2.0"),
            (["wait"], "give the id of a task to wait for"),
            (["wait", "abc", "--all"], "give ids or --all, not both"),
        ])
    func usageErrors(arguments: [String], message: String) throws {
        let result = try PybgctlTests.pybgctl(arguments, socket: daemon.socketPath)
        #expect(result.status == 64, "\(arguments): \(result)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }

    @Test("a socket path that is a regular file is named as such, without a hint to start pybgd there")
    func socketIsARegularFile() throws {
        let path = daemon.directory.appendingPathComponent("not-a-socket").path
        _ = FileManager.default.createFile(atPath: path, contents: Data("x".utf8))
        let result = try PybgctlTests.pybgctl(["status"], socket: path)
        #expect(result.status == 69)
        #expect(result.stderr.contains("\(path) is not a socket but a regular file"), "\(result.stderr)")
        #expect(!result.stderr.contains("pybgd --socket"), "\(result.stderr)")
    }

    @Test("status says how many of how many tasks it shows; --json is the STATUS reply alone")
    func statusCountsItsRows() throws {
        for _ in 0..<12 { _ = try daemon.submit("noop") }
        let status = try run("status")
        #expect(status.stdout.contains("(the 10 most recent of 12; pybgctl futures --all lists every one)"), "\(status.stdout)")
        let json = try run("status", "--json")
        let keys = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]).keys
        #expect(
            Set(keys) == [
                "version", "pid", "stopped", "shutting_down", "latest_id", "workers", "submitted", "scheduled", "pending",
                "running", "finished", "failed", "cancelled", "interrupted", "retained", "connections",
                "uptime_seconds", "state_store", "next_firings", "waiting", "retrying", "queues",
            ])
    }

    @Test("global options work before the subcommand too, as with git and systemctl")
    func optionsBeforeTheCommand() throws {
        let elsewhere = "/nonexistent/elsewhere.sock"
        let status = try PybgctlTests.pybgctl(["--socket", daemon.socketPath, "status"], socket: elsewhere)
        #expect(status.status == 0 && status.stdout.hasPrefix("pybgd "), "\(status)")
        let json = try PybgctlTests.pybgctl(["--json", "--socket=\(daemon.socketPath)", "ping"], socket: elsewhere)
        #expect(json.status == 0 && json.stdout.hasPrefix("{\"pid\":"), "\(json)")
        let submitted = try PybgctlTests.pybgctl(["--socket", daemon.socketPath, "submit", "echo", "hi"], socket: elsewhere)
        #expect(submitted.status == 0 && submitted.stdout.count == 33, "\(submitted)")
        let trailing = try PybgctlTests.pybgctl(["submit", "echo", "hi", "--socket", daemon.socketPath, "--json"], socket: elsewhere)
        #expect(trailing.status == 0 && trailing.stdout.hasPrefix("{\"id\":"), "\(trailing)")
    }

    @Test("wait takes several ids and --all; exit 0 only if every one finished, 2 when the time runs out")
    func waitForSeveral() throws {
        let first = try daemon.submit("echo", "one")
        let failing = try daemon.submit("fail")
        let last = try daemon.submit("noop")
        let mixed = try run("wait", first, failing, last)
        #expect(mixed.status == 1, "\(mixed)")
        let lines = mixed.stdout.split(separator: "\n")
        try #require(lines.count == 3, "\(mixed.stdout)")
        #expect(lines[0].hasSuffix("echo  finished") && lines[2].hasSuffix("noop  finished"), "\(mixed.stdout)")
        #expect(lines[1].contains("fail  failed: exit-status: fail exited with status 4"), "\(mixed.stdout)")

        _ = try daemon.submit("sleep", "0.2")
        _ = try daemon.submit("noop")
        let all = try run("wait", "--all")
        #expect(all.status == 0 && all.stdout.split(separator: "\n").count == 2, "\(all)")
        #expect(try run("wait", "--all").stdout.isEmpty, "nothing left to wait for")

        _ = try daemon.submit("sleep", "30")
        let timedOut = try run("wait", "--all", "--timeout", "0.2")
        #expect(timedOut.status == 2 && timedOut.stderr.contains("1 of 1 tasks had not ended after 0.2 s"), "\(timedOut)")
        let json = try run("wait", first, last, "--json")
        #expect(json.stdout.split(separator: "\n").allSatisfy { $0.hasPrefix("{") } && json.status == 0)
    }

    @Test("a misspelled keyword is refused with the task's parameters; after -- it is a value")
    func misspelledKeyword() throws {
        let refused = try run("submit", "echo", "mesage=hi")
        #expect(refused.status == 4)
        #expect(
            refused.stderr.contains("echo has no parameter \"mesage\" (its parameters: message); to pass \"mesage=hi\" as a value, put it after --"),
            "\(refused.stderr)")
        let literal = try run("submit", "echo", "--wait", "--", "mesage=hi")
        #expect(literal.status == 0 && literal.stdout == "mesage=hi\n", "\(literal)")
        let dash = try run("submit", "echo", "--wait", "--", "-x")
        #expect(dash.status == 0 && dash.stdout == "-x\n", "\(dash)")
        guard case .error(.badArgument, _) = try daemon.send(.submit(task: "echo", arguments: ["mesage=hi"])),
            case .ok = try daemon.send(.submit(task: "echo", arguments: ["--", "mesage=hi"]))
        else {
            Issue.record("the protocol refuses the keyword, and takes it after --")
            return
        }
    }
}

/// A daemon that stops answering, and other faults of the daemon itself.
@Suite("a daemon that does not answer, and the daemon's own faults", .serialized)
struct UnansweringDaemonTests {
    @Test("a stopped daemon: every request but wait and shutdown gives up after the reply timeout, exit 69 naming the socket")
    func stoppedDaemon() throws {
        // Started under a shell that waits for it, so that its stop signals the shell, not this test
        // process: a child's stop (SIGCHLD) would interrupt the blocking reads of other tests' threads.
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(at: directory) }
        let socket = directory.appendingPathComponent("pybgd.sock").path
        let launcher = Process()
        launcher.executableURL = URL(fileURLWithPath: "/bin/sh")
        launcher.arguments = [
            "-c", "\"$0\" \"$@\"; exit $?", DaemonHarness.binary.path, "--socket", socket, "--state", "memory",
            "--log-level", "error",
        ]
        launcher.standardOutput = FileHandle.nullDevice
        launcher.standardError = FileHandle.nullDevice
        try launcher.run()
        var pid: Int32 = 0
        let deadline = Date().addingTimeInterval(30)
        while pid == 0 && Date() < deadline {
            if let connection = try? ControlConnection(path: socket), case .ok(let json)? = try? connection.send(.ping) {
                pid = try ProtocolJSON.decode(PingPayload.self, from: json).pid
            } else {
                usleep(10_000)
            }
        }
        try #require(pid > 0, "the detached pybgd did not answer")
        defer {
            kill(pid, SIGCONT)
            kill(pid, SIGKILL)
            launcher.waitUntilExit()
        }
        #expect(pid != launcher.processIdentifier, "the daemon is the shell's child, not this process's")
        kill(pid, SIGSTOP)
        let started = Date()
        let ping = try PybgctlTests.pybgctl(["ping"], socket: socket, environment: ["PYBGCTL_TIMEOUT": "0.3"])
        #expect(ping.status == 69, "\(ping)")
        #expect(ping.stderr.contains("pybgd on \(socket) did not answer within 300ms"), "\(ping.stderr)")
        let status = try PybgctlTests.pybgctl(["status", "--timeout", "0.2"], socket: socket)
        #expect(status.status == 69, "\(status)")
        let submit = try PybgctlTests.pybgctl(["submit", "noop"], socket: socket, environment: ["PYBGCTL_TIMEOUT": "0.2"])
        #expect(submit.status == 69, "the fast path has the timeout too: \(submit)")
        #expect(Date().timeIntervalSince(started) < 10)
        let badEnvironment = try PybgctlTests.pybgctl(["ping"], socket: socket, environment: ["PYBGCTL_TIMEOUT": "soon"])
        #expect(badEnvironment.status == 64 && badEnvironment.stderr.contains("PYBGCTL_TIMEOUT must be a number"), "\(badEnvironment)")
        kill(pid, SIGCONT)
        #expect(try PybgctlTests.pybgctl(["ping"], socket: socket).status == 0)
    }

    @Test("a connection idle past the timeout is told ERR idle-timeout before the close; a lone CR is shown, not turned into a space")
    func idleTimeoutAndCarriageReturn() throws {
        let daemon = try DaemonHarness(config: "server: {idle_timeout_seconds: 0.3}")
        let idle = try daemon.connect()
        idle.setReadTimeout(seconds: 10)
        let said = try idle.readLine()
        #expect(said?.hasPrefix("ERR idle-timeout no complete request for 0.3 s") == true, "\(said ?? "EOF")")
        #expect(try idle.readLine() == nil)

        let connection = try daemon.connect()
        try connection.write(bytes: Array("\rPING\n".utf8))
        guard case .error(.unknownVerb, let message) = try connection.readResponse() else {
            Issue.record("\\rPING is not a verb")
            return
        }
        #expect(message.contains("\"\\u{D}PING\""), "\(message)")
    }

    @Test("a fatal error at start is printed once")
    func fatalErrorOnce() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(at: directory) }
        let state = directory.appendingPathComponent("damaged.sqlite").path
        _ = FileManager.default.createFile(atPath: state, contents: Data(repeating: 0x41, count: 4096))
        let daemon = try DaemonHarness(arguments: ["--state", state], directory: directory, waitForAnswer: false)
        #expect(daemon.waitForExit())
        #expect(daemon.process.terminationStatus == 74)
        #expect(daemon.log.components(separatedBy: "is not a usable pybgd state store").count == 2, "\(daemon.log)")
    }

    @Test("a YAML error in a reload is logged on one line, and the old tasks stay")
    func reloadErrorOnOneLine() throws {
        let daemon = try DaemonHarness(config: "tasks:\n  - {name: echo, argv: [echo, hi]}\n")
        let config = daemon.directory.appendingPathComponent("pybgd.yaml")
        try "scheduler:\n  max_workers: [1\nfoo: bar: baz\n".write(to: config, atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        // The reload is done once a request after it sees the old registry still there.
        #expect(try daemon.ok(.list, as: ListPayload.self).tasks.contains { $0.name == "echo" })
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit())
        let lines = daemon.log.split(separator: "\n")
        let refused = try #require(lines.firstIndex { $0.contains("reload refused") })
        #expect(lines[refused].contains("not valid YAML"), "\(lines[refused])")
        #expect(lines.allSatisfy { $0.hasPrefix("20") }, "every log line starts with its time: \(daemon.log)")
    }

    @Test("pybgd refuses to start with command tasks when pybgd-exec is not installed beside it")
    func helperMissing() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(at: directory) }
        let alone = directory.appendingPathComponent("pybgd")
        try FileManager.default.copyItem(at: DaemonHarness.binary, to: alone)
        let config = directory.appendingPathComponent("pybgd.yaml").path
        try "tasks:\n  - {name: echo, argv: [echo, hi]}\n".write(toFile: config, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = alone
        process.arguments = ["--config", config, "--socket", directory.appendingPathComponent("s.sock").path, "--state", "memory"]
        process.environment = ["PATH": "/usr/bin:/bin"]
        let err = Pipe()
        process.standardError = err
        try process.run()
        // A pybgd that starts after all would never close its stderr.
        let watchdog = process.killed(after: 30)
        defer { watchdog.cancel() }
        let log = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 69, "\(log)")
        #expect(log.contains("pybgd-exec, which runs command tasks in a process group of their own, is neither next to"), "\(log)")
    }
}
