import Foundation
import PyBackgroundProtocol
import PyBackgroundTesting
import Testing

/// Command tasks run in a process group of their own under pybgd-exec: whatever stops a task
/// (its timeout, the shutdown, pybgd's death) stops every process it started.
@Suite("command tasks' processes end with the task", .serialized)
struct ProcessGroupTests {
    /// The live processes whose command line holds `marker` (a zombie is not alive: here PID 1
    /// does not always reap the orphans it inherits).
    static func alive(_ marker: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> Int32? in
            guard let pid = Int32(entry),
                let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                String(decoding: cmdline, as: UTF8.self).replacingOccurrences(of: "\0", with: " ").contains(marker),
                let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let paren = stat.lastIndex(of: ")")
            else { return nil }
            let state = stat[stat.index(paren, offsetBy: 2)]
            return state == "Z" || state == "X" ? nil : pid
        }
    }

    /// Waits until no live process holds `marker`; false if some still do after `timeout`.
    static func awaitGone(_ marker: String, timeout: TimeInterval = 10) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if alive(marker).isEmpty { return true }
            usleep(20_000)
        }
        return alive(marker).isEmpty
    }

    /// Waits until some live process holds `marker`.
    static func awaitStarted(_ marker: String, timeout: TimeInterval = 10) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if !alive(marker).isEmpty { return true }
            usleep(20_000)
        }
        return false
    }

    /// A `sleep` whose argument no other process has: 1000.NNNNNN seconds.
    static func uniqueSleep() -> String { "1000.\(Int.random(in: 100_000...999_999))" }

    static func config(_ tasks: String, shutdownTimeout: Double = 30) -> String {
        "shutdown: {timeout_seconds: \(shutdownTimeout)}\ntasks:\n\(tasks)"
    }

    /// A daemon with one command task, `sh -c SCRIPT` (the script given the marker), submitted
    /// and seen running.
    static func runningTask(
        _ script: (String) -> String, taskOptions: String = "",
        shutdownTimeout: Double = 30
    ) throws -> (daemon: DaemonHarness, marker: String, id: String) {
        let marker = uniqueSleep()
        let daemon = try DaemonHarness(
            config: config(
                "  - {name: t, argv: [sh, -c, \"\(script(marker))\"]\(taskOptions)}",
                shutdownTimeout: shutdownTimeout))
        let id = try daemon.submit("t")
        #expect(awaitStarted(marker))
        return (daemon, marker, id)
    }

    @Test("a timed-out command's whole process group is stopped: the sleep its shell started does not live on")
    func timeoutStopsTheGroup() throws {
        let (daemon, marker, id) = try Self.runningTask({ "sleep \($0); echo never" }, taskOptions: ", timeout_seconds: 0.5")
        let future = try daemon.ok(.wait(id: id, timeout: 30), as: FuturePayload.self)
        #expect(future.error?.code == "timed-out")
        #expect(Self.awaitGone(marker, timeout: 1), "still running after the timeout: \(Self.alive(marker))")
    }

    @Test("at shutdown, a command that ignores SIGTERM and the child it started are killed before pybgd exits")
    func shutdownKillsTheGroup() throws {
        let (daemon, marker, _) = try Self.runningTask({ "trap '' TERM; sleep \($0)" }, shutdownTimeout: 0.2)
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: 30))
        #expect(Self.alive(marker).isEmpty, "outlived pybgd: \(Self.alive(marker))")
    }

    @Test("after SIGKILL of pybgd, the running command and its children end within the grace period")
    func daemonDeathKillsTheGroup() throws {
        let (daemon, marker, _) = try Self.runningTask({ "trap '' TERM; sleep \($0) & sleep \($0); wait" })
        daemon.signal(SIGKILL)
        #expect(daemon.waitForExit())
        // SIGTERM at once, SIGKILL 2 s later.
        #expect(Self.awaitGone(marker, timeout: 10), "outlived pybgd: \(Self.alive(marker))")
    }

    @Test("processes a command leaves behind when it exits end with the task, and its output is not held open")
    func leftoversEndWithTheTask() throws {
        let marker = Self.uniqueSleep()
        let daemon = try DaemonHarness(
            config: Self.config(
                """
                  - {name: forks, argv: [sh, -c, "sleep \(marker) & echo started"]}
                """))
        let id = try daemon.submit("forks")
        let future = try daemon.ok(.wait(id: id, timeout: 30), as: FuturePayload.self)
        #expect(future.state == "finished")
        if case .object(let fields)? = future.result { #expect(fields["stdout"] == "started\n") }
        #expect(Self.awaitGone(marker, timeout: 5), "left running: \(Self.alive(marker))")
    }

    @Test("the command runs in a session and process group of its own, not pybgd's")
    func ownProcessGroup() throws {
        let daemon = try DaemonHarness(
            config: Self.config(
                """
                  - {name: ids, argv: [sh, -c, "ps -o pgid= -o sid= -p $$"]}
                """))
        let future = try daemon.ok(.wait(id: try daemon.submit("ids"), timeout: 30), as: FuturePayload.self)
        guard case .object(let fields)? = future.result, case .string(let text)? = fields["stdout"] else {
            Issue.record("no output: \(future)")
            return
        }
        let numbers = text.split(whereSeparator: \.isWhitespace).compactMap { Int32($0) }
        let daemonGroup = getpgid(daemon.process.processIdentifier)
        #expect(numbers.count == 2)
        #expect(numbers.first != daemonGroup && numbers.last != getsid(daemon.process.processIdentifier))
        #expect(numbers.first == numbers.last, "the command leads its own session and group: \(text)")
    }

    @Test("a program that does not exist is spawn-failed, not an exit status")
    func missingProgram() throws {
        let daemon = try DaemonHarness(
            config: Self.config(
                """
                  - {name: ghost, argv: [no-such-program-here]}
                  - {name: exits127, argv: [sh, -c, "echo not a helper line >&2; exit 127"]}
                """))
        let ghost = try daemon.ok(.wait(id: try daemon.submit("ghost"), timeout: 30), as: FuturePayload.self)
        #expect(ghost.error?.code == "spawn-failed")
        #expect(ghost.error?.message.contains("no-such-program-here") == true, "\(String(describing: ghost.error))")
        let own = try daemon.ok(.wait(id: try daemon.submit("exits127"), timeout: 30), as: FuturePayload.self)
        #expect(own.error?.code == "exit-status", "a command's own 127 stays its exit status")
    }

    @Test(
        "while pybgd-exec stops what a command left behind, the command's pid stays taken (unreaped), so its group's id cannot go to another process; it is reaped before pybgd-exec exits as the command did"
    )
    func groupIDStaysTaken() throws {
        let marker = Self.uniqueSleep()
        let helper = Process()
        helper.executableURL = DaemonHarness.productDirectory.appendingPathComponent("pybgd-exec")
        // The command exits at once, leaving in a session of its own a shell that ignores SIGTERM:
        // the helper is then stopping it for its 1 s grace, signalling the command's group.
        helper.arguments = ["1000", "sh", "-c", "echo $$; setsid sh -c 'trap \"\" TERM; sleep \(marker)' & sleep 0.3; exit 3"]
        let output = Pipe()
        helper.standardOutput = output
        helper.standardInput = FileHandle.nullDevice
        try helper.run()
        let line = output.fileHandleForReading.availableData
        let command = try #require(Int32(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(Self.awaitStarted(marker))
        func stat() -> [Substring] {
            let text = (try? String(contentsOfFile: "/proc/\(command)/stat", encoding: .utf8)) ?? ""
            guard let paren = text.lastIndex(of: ")") else { return [] }
            return text[text.index(paren, offsetBy: 2)...].split(separator: " ")
        }
        // The command exits (0.3 s in); while its leftover is being stopped (1 s), its pid stays a
        // zombie of the helper's: taken, so no new process group can get the id the helper
        // signals. (Reaped at once, it would be gone from /proc within milliseconds.)
        #expect(eventually { stat().first.map { $0 == "Z" } ?? true })
        usleep(300_000)
        let fields = stat()
        #expect(fields.first == "Z" && fields.dropFirst().first == "\(helper.processIdentifier)", "the command's pid while its leftover is stopped: \(fields)")
        helper.waitUntilExit()
        #expect(helper.terminationStatus == 3, "exits as the command did")
        #expect(Self.awaitGone(marker), "the leftover that ignored SIGTERM was killed")
        #expect(!FileManager.default.fileExists(atPath: "/proc/\(command)"), "the command was reaped before the helper exited")
    }
}
