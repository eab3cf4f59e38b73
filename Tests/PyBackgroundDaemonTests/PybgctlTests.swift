import Foundation
import PyBackgroundProtocol
import PyBackgroundTesting
import Testing

/// The real pybgctl binary against a real pybgd: stdout, stderr and exit status of each command.
@Suite("pybgctl against pybgd", .serialized)
struct PybgctlTests {
    struct Run {
        let status: Int32
        let stdout: String
        let stderr: String
        /// The pybgctl process's pid (setpriv execs it in place).
        var pid: Int32 = 0
    }

    /// Whether tests may run pybgctl as another user (nobody) through setpriv.
    static let canSwitchUser = getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")

    /// Runs pybgctl with `arguments`; the socket comes from PYBGD_SOCKET unless `socket` is nil.
    /// `asNobody` runs it as uid and gid 65534 with no supplementary groups (needs ``canSwitchUser``).
    static func pybgctl(_ arguments: [String], socket: String?, environment: [String: String] = [:], asNobody: Bool = false) throws -> Run {
        let process = Process()
        let binary = DaemonHarness.productDirectory.appendingPathComponent("pybgctl")
        if asNobody {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", binary.path] + arguments
        } else {
            process.executableURL = binary
            process.arguments = arguments
        }
        var env = ProcessInfo.processInfo.environment
        env["PYBGD_SOCKET"] = socket
        env.merge(environment) { _, new in new }
        process.environment = env
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let watchdog = process.killed(after: 60)
        defer { watchdog.cancel() }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self), pid: process.processIdentifier)
    }

    let daemon: DaemonHarness

    init() throws {
        daemon = try DaemonHarness(
            config: """
                tasks:
                  - {name: echo, argv: [echo, "{message}"], parameters: [{name: message, type: string, default: hi}]}
                  - {name: fail, argv: [sh, -c, "echo broken >&2; exit 4"]}
                """)
    }

    func run(_ arguments: String...) throws -> Run { try Self.pybgctl(arguments, socket: daemon.socketPath) }

    @Test("submit now prints the new id; --wait prints the local time")
    func submitNow() throws {
        let submitted = try run("submit", "now", "0.01")
        #expect(submitted.status == 0 && submitted.stderr.isEmpty)
        #expect(submitted.stdout.range(of: #"^[0-9a-f]{32}\n$"#, options: .regularExpression) != nil, "\(submitted.stdout)")
        let waited = try run("submit", "now", "cost=0.01", "--wait")
        #expect(waited.status == 0)
        #expect(waited.stdout.range(of: #"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+\n$"#, options: .regularExpression) != nil, "\(waited.stdout)")
        #expect(try run("submit", "now").status == 0, "now works with its defaults")
    }

    @Test("submit --in and --at schedule the task: the id on stdout, when on stderr; status and futures show it; cancel withdraws it")
    func submitLater() throws {
        let delayed = try run("submit", "echo", "later", "--in", "10m")
        #expect(delayed.status == 0 && delayed.stdout.range(of: #"^[0-9a-f]{32}\n$"#, options: .regularExpression) != nil, "\(delayed)")
        #expect(
            delayed.stderr.range(of: #"^scheduled for \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(in 9m5\ds\)\n$"#, options: .regularExpression) != nil,
            "\(delayed.stderr)")
        // A wall time without an offset is the user's (TZ), sent with its offset: the daemon's zone plays no part.
        let timed = try Self.pybgctl(["submit", "noop", "--at", "2030-06-01T12:00"], socket: daemon.socketPath, environment: ["TZ": "Asia/Tokyo"])
        #expect(timed.status == 0, "\(timed)")
        let id = timed.stdout.trimmingCharacters(in: .newlines)
        let row = try daemon.ok(.result(id: id), as: FuturePayload.self)
        #expect(row.state == "scheduled" && row.runAt == 1_906_513_200)  // 2030-06-01T03:00:00Z

        let status = try run("status")
        #expect(status.stdout.contains("tasks:  2 scheduled, 0 pending"), "\(status.stdout)")
        #expect(
            status.stdout.range(of: #"echo\s+later\s+scheduled\s+-\s+runs \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(in 9m5\ds\)"#, options: .regularExpression) != nil,
            "\(status.stdout)")
        #expect(try run("tasks").stdout.contains("RUN AT"))
        #expect(try run("cancel", id).status == 0)
        #expect(try daemon.ok(.result(id: id), as: FuturePayload.self).state == "cancelled")
    }

    @Test(
        "a bad --in or --at is refused before anything is sent, naming the form accepted",
        arguments: [
            (["--in", "soon"], "is not a length of time"), (["--at", "tomorrow"], "YYYY-MM-DDTHH:MM"),
            (["--in", "5m", "--at", "2030-01-01T00:00"], "--in and --at both say when to run"),
        ])
    func badTiming(options: [String], fragment: String) throws {
        let refused = try Self.pybgctl(["submit", "noop"] + options, socket: daemon.socketPath)
        #expect(refused.status == 64 && refused.stderr.contains(fragment), "\(refused)")
        #expect(try daemon.ok(.status, as: StatusPayload.self).submitted == 0)
    }

    @Test("a command task's output is printed as it was; a failure exits 1 with its reason")
    func commandOutputAndFailure() throws {
        let echoed = try run("submit", "echo", "hello world", "--wait")
        #expect(echoed.status == 0 && echoed.stdout == "hello world\n")
        let failed = try run("submit", "fail", "--wait")
        #expect(failed.status == 1)
        #expect(failed.stderr.contains("broken"))
        #expect(failed.stderr.contains("exit-status: fail exited with status 4"), "\(failed.stderr)")
    }

    @Test("status shows the counts and an aligned table of recent tasks with short ids")
    func status() throws {
        let id = try run("submit", "echo", "message=x", "--wait")
        #expect(id.status == 0)
        let status = try run("status")
        #expect(status.status == 0)
        let lines = status.stdout.split(separator: "\n").map(String.init)
        #expect(lines[0].hasPrefix("pybgd 0.1.0 (pid \(daemon.process.processIdentifier)): running, up "))
        #expect(lines.contains { $0.hasPrefix("tasks:  0 pending, 0 running, 1 finished") })
        let header = try #require(lines.first { $0.hasPrefix("ID") })
        #expect(header.range(of: #"^ID\s+NAME\s+ARGS\s+STATE\s+DURATION\s+RESULT$"#, options: .regularExpression) != nil, "\(header)")
        let row = try #require(lines.last)
        #expect(row.range(of: #"^[0-9a-f]{7}\s+echo\s+message=x\s+finished\s+\S+\s+x$"#, options: .regularExpression) != nil, "\(row)")
        // Columns line up: each row's NAME starts where the header's does.
        #expect(
            row.distance(from: row.startIndex, to: row.range(of: "echo")!.lowerBound)
                == header.distance(from: header.startIndex, to: header.range(of: "NAME")!.lowerBound))
    }

    @Test("--json prints the protocol's payload for scripts")
    func json() throws {
        let submitted = try run("submit", "noop", "--json")
        let payload = try ProtocolJSON.decode(SubmitPayload.self, from: submitted.stdout.trimmingCharacters(in: .newlines))
        #expect(payload.task == "noop")
        let waited = try run("wait", payload.id, "--json")
        #expect(try ProtocolJSON.decode(FuturePayload.self, from: waited.stdout).state == "finished")
        let status = try run("status", "--json")
        let statusPayload = try ProtocolJSON.decode(StatusPayload.self, from: status.stdout)
        #expect(statusPayload.finished >= 1, "status --json is the STATUS reply, as PROTOCOL.md lists it")
        #expect(!status.stdout.contains("\"recent\""))
        for command in [["tasks"], ["futures"], ["latest"], ["list"], ["ping"], ["result", payload.id]] {
            let result = try Self.pybgctl(command + ["--json"], socket: daemon.socketPath)
            #expect(result.status == 0, "\(command)")
            #expect(result.stdout.hasPrefix("{") && result.stdout.hasSuffix("}\n"), "\(command): \(result.stdout)")
        }
    }

    @Test("tasks, futures, latest, result, list and ping print their tables and values")
    func queries() throws {
        let id = try run("submit", "echo", "message=abc", "--wait")
        #expect(id.status == 0)
        let latest = try run("latest").stdout.trimmingCharacters(in: .newlines)
        #expect(latest.count == 32)
        #expect(try run("result", String(latest.prefix(6))).stdout == "abc\n")
        #expect(try run("tasks").stdout.contains("echo  message=abc"))
        #expect(try run("futures").stdout.contains("finished"))
        let list = try run("list").stdout
        #expect(list.contains("echo") && list.contains("message:string=hi") && list.contains("now") && list.contains("cost:double=1"))
        #expect(try run("ping").stdout.hasPrefix("pong from pybgd 0.1.0"))
    }

    @Test("clean removes ended tasks (all, or those older than an age) and says how many; status shows the state store")
    func clean() throws {
        let id = try run("submit", "noop", "--wait")
        #expect(id.status == 0)
        #expect(try run("clean", "--older-than", "1d").stdout == "removed 0 ended tasks\n")
        #expect(try run("clean").stdout == "removed 1 ended task\n")
        #expect(try run("clean", "--json").stdout == "{\"removed\":0}\n")
        let status = try run("status").stdout
        #expect(status.contains("state:  \(daemon.statePath)"), "\(status)")
        #expect(status.contains("0 kept"), "\(status)")
    }

    @Test(
        "errors are one line on stderr with a distinct exit status",
        arguments: [
            (["submit", "nosuch"], 3, "no task named \"nosuch\"; registered: echo, fail, noop, now, sleep, timer, utcnow"),
            (["submit", "now", "soon"], 4, "now: cost must be a number (double), got \"soon\""),
            (["submit", "sleep"], 4, "missing seconds (a number)"),
            (["result", "ffffffff"], 5, "no task id starts with ffffffff"),
            (["wait", "xyz"], 5, "is not a task id"),
            (["submit", "now", "--timeout", "1"], 64, "--timeout goes with --wait"),
            (["clean", "--older-than", "soon"], 64, "--older-than takes an age like 3600, 90m, 12h or 7d, got \"soon\""),
        ] as [([String], Int32, String)])
    func errors(arguments: [String], status: Int32, message: String) throws {
        let result = try Self.pybgctl(arguments, socket: daemon.socketPath)
        #expect(result.status == status, "\(arguments): \(result.stderr)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        if status != 64 { #expect(result.stderr.split(separator: "\n").count == 1) }
    }

    @Test("wait --timeout exits 2; cancel of a running task exits 6, of a pending one succeeds")
    func waitAndCancel() throws {
        let blocker = try run("submit", "sleep", "30").stdout.trimmingCharacters(in: .newlines)
        let second = try run("submit", "sleep", "30").stdout.trimmingCharacters(in: .newlines)
        let queued = try run("submit", "noop").stdout.trimmingCharacters(in: .newlines)
        let timedOut = try run("wait", queued, "--timeout", "0.05")
        #expect(timedOut.status == 2 && timedOut.stderr.contains("has not ended"))
        let cancelled = try run("cancel", queued)
        #expect(cancelled.status == 0 && cancelled.stdout == "cancelled \(queued) (noop)\n")
        let refused = try run("cancel", blocker)
        #expect(refused.status == 6 && refused.stderr.contains("only a scheduled, waiting, pending or retrying task can be cancelled"))
        #expect(try run("wait", queued).status == 1, "waiting on a cancelled task reports it")
        _ = second
    }

    @Test("a daemon that is not running: exit 69, the path tried and how to start it")
    func notRunning() throws {
        let path = daemon.directory.appendingPathComponent("nobody.sock").path
        let result = try Self.pybgctl(["status"], socket: path)
        #expect(result.status == 69)
        #expect(result.stderr.contains("pybgd is not running: nothing listens on \(path)"))
        #expect(result.stderr.contains("systemctl start pybgd"))
    }

    @Test("--socket wins over PYBGD_SOCKET")
    func socketOption() throws {
        let result = try Self.pybgctl(["ping", "--socket", daemon.socketPath], socket: "/nonexistent/elsewhere.sock")
        #expect(result.status == 0)
    }

    @Test(
        "permission denied on the socket: exit 77",
        .enabled(if: PybgctlTests.canSwitchUser, "needs root and setpriv to run pybgctl as another uid"))
    func permissionDenied() throws {
        // As an unprivileged user (nobody) the 0600 root-owned socket must refuse the connection.
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: daemon.directory.path)
        let result = try Self.pybgctl(["ping", "--socket", daemon.socketPath], socket: nil, asNobody: true)
        #expect(result.status == 77, "\(result.stderr)")
        #expect(result.stderr.contains("permission denied on \(daemon.socketPath)"))
    }

    @Test("shutdown waits for the tasks, then the daemon exits 0")
    func shutdown() throws {
        #expect(try run("submit", "sleep", "0.2").status == 0)
        let result = try run("shutdown")
        #expect(result.status == 0 && result.stdout == "pybgd stopped its tasks and is exiting\n")
        #expect(daemon.waitForExit())
        #expect(daemon.process.terminationStatus == 0)
    }
}
