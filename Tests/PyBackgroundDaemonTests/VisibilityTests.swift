import Foundation
import PyBackgroundClient
import PyBackgroundProtocol
import PyBackgroundTesting
import Testing

/// Whole output, live follow and the event stream, with the real pybgd and the real pybgctl.
@Suite("Output and events with the real daemon")
struct VisibilityTests {
    /// `chatty N [status] [pause]`: N numbered lines on stdout and on stderr, a pause after each,
    /// then exit with the status.
    static let config = """
        output: {max_bytes: 4096}
        scheduler: {max_workers: 4, keep_finished: null}
        tasks:
          - name: chatty
            argv: ["sh", "-c", "i=1; while [ $i -le $0 ]; do echo line $i; echo err $i >&2; sleep $2; i=$((i+1)); done; exit $1", "{n}", "{status}", "{pause}"]
            parameters:
              - {name: n, type: int}
              - {name: status, type: int, default: 0}
              - {name: pause, type: double, default: 0}
        """

    func pybgctl(_ arguments: [String], _ daemon: DaemonHarness) throws -> PybgctlTests.Run {
        try PybgctlTests.pybgctl(arguments, socket: daemon.socketPath)
    }

    @Test("a command's output past output.max_bytes keeps its head and tail with the gap told; it survives a restart; CLEAN removes it")
    func wholeOutputAcrossRestart() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(at: directory) }
        var daemon = try DaemonHarness(config: Self.config, directory: directory)
        let id = try daemon.submit("chatty", "1000")
        #expect(try daemon.ok(.wait(id: id, timeout: 60), as: FuturePayload.self).state == "finished")

        let log = try pybgctl(["log", id], daemon)
        #expect(log.status == 0)
        #expect(log.stdout.hasPrefix("line 1\nline 2\n"))
        #expect(log.stdout.hasSuffix("line 999\nline 1000\n"))
        #expect(log.stdout.contains("bytes of the middle not kept (output.max_bytes)]\n"))
        #expect(log.stdout.utf8.count < 4096 + 200)
        #expect(try pybgctl(["log", id, "--tail", "2"], daemon).stdout == "line 999\nline 1000\n")
        #expect(try pybgctl(["log", String(id.prefix(8)), "--stderr", "--tail", "1"], daemon).stdout == "err 1000\n")
        // The result keeps its prefix as before.
        let result = try daemon.ok(.result(id: id), as: FuturePayload.self)
        guard case .string(let prefix)? = result.result?.objectValue?["stdout"] else {
            Issue.record("no stdout in the result")
            return
        }
        #expect(prefix.hasPrefix("line 1\n"))

        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit())
        daemon = try DaemonHarness(config: Self.config, directory: directory)
        #expect(try pybgctl(["log", id], daemon).stdout == log.stdout)

        let outputDirectory = directory.appendingPathComponent("pybgd.sqlite-output/\(id)").path
        #expect(FileManager.default.fileExists(atPath: outputDirectory))
        #expect(try pybgctl(["clean"], daemon).status == 0)
        #expect(!FileManager.default.fileExists(atPath: outputDirectory))
        #expect(try pybgctl(["log", id], daemon).status == 5)
    }

    @Test("follow of three running tasks prints each one's lines in order under its short id, and exits as wait does")
    func followThree() throws {
        let daemon = try DaemonHarness(config: Self.config)
        let ids = [
            try daemon.submit("chatty", "20", "0", "0.05"), try daemon.submit("chatty", "15", "0", "0.05"),
            try daemon.submit("chatty", "10", "3", "0.05"),
        ]
        let run = try pybgctl(["follow"] + ids, daemon)
        #expect(run.status == 1, "one task exited 3: \(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        for (id, count) in zip(ids, [20, 15, 10]) {
            let prefix = "[\(id.prefix(7))] "
            let own = lines.filter { $0.hasPrefix(prefix) }.map { $0.dropFirst(prefix.count) }
            #expect(own == (1...count).map { "line \($0)"[...] })
        }
        #expect(run.stderr.contains("[\(ids[2].prefix(7))] err 10"))
        #expect(run.stderr.contains("task \(ids[2].prefix(7)) failed"))
        // Followed again once ended: the output, then the same status.
        let again = try pybgctl(["follow", ids[0]], daemon)
        #expect(again.status == 0 && again.stdout == (1...20).map { "line \($0)\n" }.joined())
    }

    @Test("a built-in writes to its output through its context: the timer's readings, live")
    func builtinOutput() throws {
        let daemon = try DaemonHarness(config: "", arguments: ["--state", "memory"])
        let id = try daemon.submit("timer", "0.02")
        #expect(eventually { ((try? pybgctl(["log", id], daemon))?.stdout.split(separator: "\n").count ?? 0) >= 3 })
    }

    /// Reads lines until `stop` says so; nil when the connection ends first.
    func readUntil(_ connection: ControlConnection, _ stop: (String) -> Bool) throws -> [String]? {
        var lines: [String] = []
        while let line = try connection.readLine() {
            lines.append(line)
            if stop(line) { return lines }
        }
        return nil
    }

    @Test(
        "a reader that does not read never holds up a pipelined burst: it gets lagged with the count of what it missed, then the events after it",
        arguments: ["skip", "close"])
    func laggedReader(onLag: String) throws {
        let daemon = try DaemonHarness(config: "events: {buffer: 100, on_lag: \(onLag)}", arguments: ["--state", "memory"])
        let events = try ControlConnection(path: daemon.socketPath)
        try events.write(line: "EVENTS task=noop")
        #expect(try events.readLine()?.hasPrefix("OK {\"buffer\":100") == true)

        let burst = 20_000
        let submitter = try ControlConnection(path: daemon.socketPath)
        submitter.setReadTimeout(seconds: 120)
        try submitter.write(bytes: Array(String(repeating: "SUBMIT noop\n", count: burst).utf8))
        for _ in 0..<burst {
            guard case .ok = try submitter.readResponse() else {
                Issue.record("a SUBMIT was refused")
                return
            }
        }
        #expect(eventually(timeout: .seconds(120)) { (try? daemon.ok(.status, as: StatusPayload.self).finished) == burst })

        // Every event of the burst is delivered or counted in a lagged event (several when the
        // reader fell behind more than once); with on_lag close the first lagged event is the last line.
        events.setReadTimeout(seconds: 60)
        var delivered = 0
        var missed = 0
        while delivered + missed < 3 * burst, let line = try events.readLine() {
            let event = try ProtocolJSON.decode(TaskEventPayload.self, from: String(line.dropFirst("EVENT ".count)))
            if event.event == .lagged {
                missed += event.missed ?? 0
                if onLag == "close" { break }
            } else {
                delivered += 1
            }
        }
        #expect(missed > 0)
        if onLag == "close" {
            #expect(try events.readLine() == nil)
        } else {
            #expect(delivered + missed == 3 * burst)
            let id = try daemon.submit("noop")
            let after = try readUntil(events) { $0.contains("\"finished\"") }
            #expect(after?.count == 3 && after?.allSatisfy { $0.contains(id) } == true)
        }
    }

    @Test("an EVENTS client that ends its input gets END and the connection closes; the daemon's shutdown ends a stream with its reason")
    func eventsEnd() throws {
        let daemon = try DaemonHarness(config: "", arguments: ["--state", "memory"])
        let closing = try ControlConnection(path: daemon.socketPath)
        try closing.write(line: "EVENTS")
        #expect(try closing.readLine()?.hasPrefix("OK ") == true)
        closing.shutdownWrite()
        #expect(try closing.readLine() == #"END {"reason":"closed"}"#)
        #expect(try closing.readLine() == nil)

        let staying = try ControlConnection(path: daemon.socketPath)
        try staying.write(line: "EVENTS")
        #expect(try staying.readLine()?.hasPrefix("OK ") == true)
        daemon.signal(SIGTERM)
        #expect(try staying.readLine() == #"END {"reason":"shutdown"}"#)
        #expect(daemon.waitForExit())
    }

    @Test("pybgctl watch --json writes a task's events in order, filtered by task")
    func watchJSON() throws {
        let daemon = try DaemonHarness(config: "", arguments: ["--state", "memory"])
        let process = Process()
        process.executableURL = DaemonHarness.productDirectory.appendingPathComponent("pybgctl")
        process.arguments = ["watch", "--json", "--task", "sleep", "--socket", daemon.socketPath]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        defer { process.terminate() }
        // The stream is open once the daemon counts the watcher's connection.
        #expect(eventually { (try? daemon.ok(.status, as: StatusPayload.self).connections) == 2 })
        _ = try daemon.submit("noop")
        let id = try daemon.submit("sleep", "0.01")
        var text = ""
        while !text.contains("\"finished\"") {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        let events = try text.split(separator: "\n").map { try ProtocolJSON.decode(TaskEventPayload.self, from: String($0)) }
        #expect(events.map(\.event) == [.submitted, .started, .finished])
        #expect(events.allSatisfy { $0.id == id && $0.task == "sleep" && $0.queue == "default" })
    }
}
