import Foundation
import PyBackgroundClient
import PyBackgroundProtocol
import PyBackgroundTesting
import Testing

/// pybgd under systemd's protocols, driven the way systemd drives it: NOTIFY_SOCKET, LISTEN_FDS,
/// WATCHDOG_USEC, SIGHUP. systemd itself is not needed (nor PID 1 here).
@Suite("systemd integration", .serialized)
struct SystemdTests {
    /// A datagram socket standing in for systemd's notification socket.
    final class NotifySocket {
        let path: String
        let descriptor: Int32

        init(path: String) throws {
            self.path = path
            descriptor = try UnixSocket.bound(to: path, type: Int32(SOCK_DGRAM.rawValue))
        }

        deinit {
            close(descriptor)
            unlink(path)
        }

        /// The next datagram, or nil after `timeout` seconds.
        func receive(timeout: Double) -> String? {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, Int32(timeout * 1000)) == 1 else { return nil }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = recv(descriptor, &buffer, buffer.count, 0)
            return count > 0 ? String(decoding: buffer[..<count], as: UTF8.self) : nil
        }

        /// Receives until a datagram contains `field`; nil after `timeout` seconds.
        func receive(containing field: String, timeout: Double) -> String? {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                if let message = receive(timeout: deadline.timeIntervalSinceNow), message.split(separator: "\n").contains(Substring(field)) {
                    return message
                }
            }
            return nil
        }
    }

    /// Starts pybgd through `sh -c 'exec …'` so that LISTEN_PID / WATCHDOG_PID can name its own pid,
    /// optionally passing `listening` as fd 3, with stderr to `log`.
    static func spawn(
        arguments: [String], environment: [String: String], listening: Int32? = nil,
        pidVariables: [String] = [], log: String
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let listening { posix_spawn_file_actions_adddup2(&actions, listening, 3) }
        posix_spawn_file_actions_addopen(&actions, 2, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        let exports = pidVariables.map { "\($0)=$$" }.joined(separator: " ")
        let script = "\(exports.isEmpty ? "" : "export \(exports); ")exec \"$0\" \"$@\""
        let argv = ["/bin/sh", "-c", script, DaemonHarness.binary.path] + arguments
        // systemd's StateDirectory= sets STATE_DIRECTORY: the store goes next to the log, one per test.
        var environment = environment
        if environment["STATE_DIRECTORY"] == nil, let slash = log.lastIndex(of: "/") {
            environment["STATE_DIRECTORY"] = String(log[..<slash])
        }
        let environ = environment.map { "\($0.key)=\($0.value)" }
        var cArgv = argv.map { strdup($0) } + [nil]
        var cEnv = environ.map { strdup($0) } + [nil]
        defer {
            for pointer in cArgv + cEnv { free(pointer) }
        }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, "/bin/sh", &actions, nil, &cArgv, &cEnv)
        guard status == 0 else { throw HarnessError("posix_spawn: \(status)") }
        return pid
    }

    static func waitForExit(_ pid: pid_t, timeout: Double = 30) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        var status: Int32 = 0
        while Date() < deadline {
            if waitpid(pid, &status, WNOHANG) == pid { return (status >> 8) & 0xFF }
            usleep(5_000)
        }
        kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
        return nil
    }

    static var baseEnvironment: [String: String] {
        ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
    }

    @Test("READY=1 arrives only once the control socket answers; SIGHUP brings RELOADING=1 then READY=1; STOPPING=1 follows SIGTERM")
    func readinessAndStopping() throws {
        let directory = try TemporaryDirectory.make("pybgd-sd")
        defer { try? FileManager.default.removeItem(at: directory) }
        let notify = try NotifySocket(path: directory.appendingPathComponent("notify").path)
        let socketPath = directory.appendingPathComponent("pybgd.sock").path
        var environment = Self.baseEnvironment
        environment["NOTIFY_SOCKET"] = notify.path
        let pid = try Self.spawn(
            arguments: ["--socket", socketPath], environment: environment,
            log: directory.appendingPathComponent("log").path)
        let ready = try #require(notify.receive(containing: "READY=1", timeout: 30), "no READY=1")
        // The moment READY=1 is read, the socket must already answer.
        #expect(try ControlConnection(path: socketPath).send(.ping).isOK)
        #expect(ready.contains("STATUS=0 pending, 0 running, 0 finished"), "\(ready)")
        // A reload right after READY=1, as systemd may send one, must not end the daemon.
        kill(pid, SIGHUP)
        let reloading = try #require(notify.receive(containing: "RELOADING=1", timeout: 30), "no RELOADING=1")
        #expect(reloading.contains("MONOTONIC_USEC="))
        #expect(notify.receive(containing: "READY=1", timeout: 30) != nil, "no READY=1 after the reload")
        #expect(try ControlConnection(path: socketPath).send(.ping).isOK)
        kill(pid, SIGTERM)
        #expect(notify.receive(containing: "STOPPING=1", timeout: 30) != nil)
        #expect(Self.waitForExit(pid) == 0)
    }

    @Test("outside systemd (no NOTIFY_SOCKET) nothing is sent and the daemon runs as usual")
    func silentOutsideSystemd() throws {
        let daemon = try DaemonHarness(environment: ["NOTIFY_SOCKET": ""])
        #expect(try daemon.send(.ping).isOK)
    }

    @Test("with LISTEN_FDS=1 it serves the socket passed as fd 3, including requests queued before it started")
    func socketActivation() throws {
        let directory = try TemporaryDirectory.make("pybgd-sd")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("activated.sock").path
        let listener = try UnixSocket.listening(at: path)
        defer { close(listener) }

        // A client connects and sends before pybgd exists: systemd's backlog holds it.
        let early = try ControlConnection(path: path)
        try early.write(line: "PING")

        var environment = Self.baseEnvironment
        environment["LISTEN_FDS"] = "1"
        let pid = try Self.spawn(
            arguments: ["--socket", directory.appendingPathComponent("unused.sock").path],
            environment: environment, listening: listener, pidVariables: ["LISTEN_PID"],
            log: directory.appendingPathComponent("log").path)
        #expect(try early.readResponse().isOK, "the queued request is served")
        #expect(try ControlConnection(path: path).send(.submit(task: "noop", arguments: [])).isOK)
        #expect(
            !FileManager.default.fileExists(atPath: directory.appendingPathComponent("unused.sock").path),
            "it must not bind a socket of its own")
        kill(pid, SIGTERM)
        #expect(Self.waitForExit(pid) == 0)
        #expect(FileManager.default.fileExists(atPath: path), "the passed socket's file belongs to systemd and stays")
    }

    @Test("with WATCHDOG_USEC it sends WATCHDOG=1 at half that period")
    func watchdog() throws {
        let directory = try TemporaryDirectory.make("pybgd-sd")
        defer { try? FileManager.default.removeItem(at: directory) }
        let notify = try NotifySocket(path: directory.appendingPathComponent("notify").path)
        var environment = Self.baseEnvironment
        environment["NOTIFY_SOCKET"] = notify.path
        environment["WATCHDOG_USEC"] = "400000"
        let pid = try Self.spawn(
            arguments: ["--socket", directory.appendingPathComponent("s.sock").path],
            environment: environment, pidVariables: ["WATCHDOG_PID"],
            log: directory.appendingPathComponent("log").path)
        defer {
            kill(pid, SIGTERM)
            _ = Self.waitForExit(pid)
        }
        #expect(notify.receive(containing: "READY=1", timeout: 30) != nil)
        var pings: [Date] = []
        let end = Date().addingTimeInterval(2.1)
        while Date() < end {
            if let message = notify.receive(timeout: end.timeIntervalSinceNow), message.contains("WATCHDOG=1") { pings.append(Date()) }
        }
        // Every 200 ms over 2.1 s: about ten. Loose bounds: a busy machine delays, it does not speed up.
        #expect(pings.count >= 6 && pings.count <= 12, "\(pings.count) keep-alives in 2.1 s")
        let gaps = zip(pings.dropFirst(), pings).map { $0.timeIntervalSince($1) }
        #expect(gaps.allSatisfy { $0 > 0.1 }, "keep-alives closer than half the period: \(gaps)")
    }

    @Test("SIGHUP reloads the command tasks; a bad file is refused and the old tasks stay")
    func reloadOnSIGHUP() throws {
        let daemon = try DaemonHarness(config: "tasks:\n  - {name: first, argv: [\"true\"]}\n")
        let configPath = daemon.directory.appendingPathComponent("pybgd.yaml")
        let running = try daemon.submit("sleep", "0.5")
        try "tasks:\n  - {name: second, argv: [\"true\"]}\n".write(to: configPath, atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        let names = { try daemon.ok(.list, as: ListPayload.self).tasks.map(\.name) }
        var reloaded = false
        for _ in 0..<1000 where !reloaded {
            reloaded = try names().contains("second")
            if !reloaded { usleep(5_000) }
        }
        #expect(reloaded)
        #expect(try !names().contains("first"))
        #expect(try daemon.ok(.wait(id: running, timeout: 30), as: FuturePayload.self).state == "finished", "running tasks are untouched")

        try "tasks:\n  - {name: broken, argv: []}\n".write(to: configPath, atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        #expect(try daemon.submit("second").count == 32, "the old tasks stay after a bad reload")
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit())
        #expect(daemon.log.contains("reload refused; the previous tasks stay"))
        #expect(daemon.log.contains("tasks[0].argv"))
    }

    @Test(
        "the units pass systemd-analyze verify, also with the PostgreSQL drop-in",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze"), "systemd-analyze is not installed"))
    func unitsVerify() throws {
        let directory = try TemporaryDirectory.make("pybgd-sd")
        defer { try? FileManager.default.removeItem(at: directory) }
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for unit in ["pybgd.service", "pybgd.socket"] {
            let template = try String(contentsOf: repository.appendingPathComponent("systemd/\(unit)"), encoding: .utf8)
            let rendered =
                template
                .replacingOccurrences(of: "@BINDIR@", with: DaemonHarness.productDirectory.path)
                .replacingOccurrences(of: "@SYSCONFDIR@", with: "/etc")
                .replacingOccurrences(of: "@DOCDIR@", with: repository.path)
            try rendered.write(to: directory.appendingPathComponent(unit), atomically: true, encoding: .utf8)
        }
        try verify(in: directory)
        // The drop-in of state.store: postgresql, as a user installs it beside the unit.
        let dropIns = directory.appendingPathComponent("pybgd.service.d")
        try FileManager.default.createDirectory(at: dropIns, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            at: repository.appendingPathComponent("systemd/pybgd.service.d/postgresql.conf.example"),
            to: dropIns.appendingPathComponent("postgresql.conf"))
        try verify(in: directory)
    }

    private func verify(in directory: URL) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/systemd-analyze")
        process.arguments = ["verify", "pybgd.socket", "pybgd.service"]
        process.currentDirectoryURL = directory
        let output = Pipe()
        process.standardError = output
        process.standardOutput = output
        try process.run()
        process.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0, "\(text)")
        #expect(!text.contains("pybgd"), "warnings about the units: \(text)")
    }
}
