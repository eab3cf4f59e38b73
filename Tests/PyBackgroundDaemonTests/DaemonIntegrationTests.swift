import Foundation
import PyBackgroundClient
import PyBackgroundDaemon
import PyBackgroundProtocol
import PyBackgroundTesting
import Synchronization
import Testing

/// The real pybgd binary on a temporary socket, driven over real connections.
@Suite("pybgd integration", .serialized)
struct DaemonIntegrationTests {
    @Test("PING answers with the pid; the socket file is created mode 0600")
    func pingAndSocketMode() throws {
        let daemon = try DaemonHarness()
        let ping = try daemon.ok(.ping, as: PingPayload.self)
        #expect(ping.pong && ping.pid == daemon.process.processIdentifier)
        let attributes = try FileManager.default.attributesOfItem(atPath: daemon.socketPath)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
    }

    @Test("SUBMIT now returns an id; WAIT returns the finished future with the local time")
    func submitNowAndWait() throws {
        let daemon = try DaemonHarness()
        let id = try daemon.submit("now", "cost=0.05")
        #expect(id.count == 32)
        let future = try daemon.ok(.wait(id: id, timeout: 30), as: FuturePayload.self)
        #expect(future.state == "finished" && future.name == "now")
        #expect(future.kwargs == ["cost": 0.05])
        guard case .string(let time)? = future.result else {
            Issue.record("no time: \(future)")
            return
        }
        #expect(time.range(of: #"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \S+$"#, options: .regularExpression) != nil, "\(time)")
        #expect(try daemon.ok(.latest, as: LatestPayload.self).latestID == id)
    }

    @Test("pipelined requests are answered in order, one line each")
    func pipelinedInOrder() throws {
        let daemon = try DaemonHarness()
        let connection = try daemon.connect()
        let count = 2000
        var batch: [UInt8] = []
        for index in 0..<count {
            batch += Array((index % 100 == 99 ? "PING\n" : "SUBMIT noop\n").utf8)
        }
        try connection.write(bytes: batch)
        var ids = Set<String>()
        for index in 0..<count {
            let response = try connection.readResponse()
            guard case .ok(let json) = response else {
                Issue.record("reply \(index): \(response)")
                return
            }
            if index % 100 == 99 {
                #expect(json.contains("\"pong\":true"), "reply \(index) should answer the PING")
            } else {
                ids.insert(try ProtocolJSON.decode(SubmitPayload.self, from: json).id)
            }
        }
        #expect(ids.count == count - count / 100)
    }

    @Test("a request after WAIT is evaluated after the wait ended")
    func sequentialEvaluationAfterWait() throws {
        let daemon = try DaemonHarness()
        let id = try daemon.submit("sleep", "0.2")
        let connection = try daemon.connect()
        try connection.write(line: "WAIT \(id) 30\nRESULT \(id.prefix(8))")
        for _ in 0..<2 {
            guard case .ok(let json) = try connection.readResponse() else {
                Issue.record("expected OK")
                return
            }
            #expect(try ProtocolJSON.decode(FuturePayload.self, from: json).state == "finished")
        }
    }

    @Test(
        "bad requests get a clear ERR and the connection keeps serving",
        arguments: [
            ("FROB", ErrorCode.unknownVerb, "unknown verb"),
            ("SUBMIT nosuch", .unknownTask, "registered: noop, now, sleep, timer, utcnow"),
            ("SUBMIT now abc", .badArgument, "cost must be a number"),
            ("SUBMIT sleep", .badArgument, "missing seconds"),
            ("SUBMIT now 1 2", .badArgument, "one argument too many"),
            ("SUBMIT \"open", .badRequest, "not closed"),
            ("RESULT 00000000000000000000000000000000", .unknownID, "no task has id"),
            ("RESULT zz", .unknownID, "not a task id"),
            ("CANCEL 0123", .unknownID, "no task id starts with"),
            ("TASKS lots", .badRequest, "row count"),
        ])
    func badRequests(line: String, code: ErrorCode, fragment: String) throws {
        let daemon = try DaemonHarness()
        let connection = try daemon.connect()
        try connection.write(line: line)
        guard case .error(let got, let message) = try connection.readResponse() else {
            Issue.record("expected ERR for \(line)")
            return
        }
        #expect(got == code)
        #expect(message.contains(fragment), "\(message)")
        #expect(try connection.send(.ping) != .error(.internal, ""))
    }

    @Test("invalid UTF-8 and NUL bytes are refused without harm")
    func invalidBytes() throws {
        let daemon = try DaemonHarness()
        let connection = try daemon.connect()
        try connection.write(bytes: [0x53, 0x55, 0xFF, 0xFE, 0x0A])
        #expect(try connection.readResponse() == .error(.invalidUTF8, "the request is not valid UTF-8"))
        try connection.write(bytes: Array("PI\0NG\n".utf8))
        #expect(try connection.readResponse() == .error(.badRequest, "the request holds a NUL byte (0x00), which no word may contain"))
        // Not even inside quotes: a command's argv would be cut short at the NUL.
        try connection.write(bytes: Array("SUBMIT echo \"a\0b\"\n".utf8))
        #expect(try connection.readResponse() == .error(.badRequest, "the request holds a NUL byte (0x00), which no word may contain"))
        #expect(try connection.send(.ping).isOK)
    }

    @Test("a line over the limit is refused and its connection closed; other clients are unaffected")
    func lineTooLong() throws {
        let daemon = try DaemonHarness(config: "server: {max_line_bytes: 1024}")
        let bystander = try daemon.connect()
        let connection = try daemon.connect()
        try connection.write(line: "SUBMIT echo " + String(repeating: "x", count: 5000))
        guard case .error(.lineTooLong, _) = try connection.readResponse() else {
            Issue.record("expected line-too-long")
            return
        }
        #expect(try connection.readLine() == nil, "the connection should be closed")
        // A line of exactly the limit is still read (and here refused for its argument, not its length).
        let atLimit = Request.submit(task: "noop", arguments: [String(repeating: "y", count: 1024 - 12)])
        #expect(atLimit.line.utf8.count == 1024)
        #expect(try daemon.connect().send(atLimit).errorCode == .badArgument)
        #expect(try bystander.send(.ping).isOK)
    }

    @Test(
        "the replies owed before a line over the limit come first, in order, then line-too-long, then the close",
        arguments: [
            // Durable SUBMITs answered after their commit, a WAIT answered when its task ends, a
            // SUBMIT pipelined behind the WAIT: all are ahead of the long line and must be answered.
            ["SUBMIT noop", "SUBMIT noop", "SUBMIT noop"],
            ["SUBMIT sleep 0.3", "WAIT LATEST", "SUBMIT noop"],
        ])
    func repliesOwedBeforeALineTooLong(requests: [String]) throws {
        let daemon = try DaemonHarness(config: "server: {max_line_bytes: 1024}")
        let connection = try daemon.connect()
        connection.setReadTimeout(seconds: 10)
        // WAIT LATEST stands for the id the first SUBMIT will get: the daemon's ids are random.
        var lines = requests
        if let wait = lines.firstIndex(of: "WAIT LATEST") {
            try connection.write(line: lines[0])
            guard case .ok(let json) = try connection.readResponse() else {
                Issue.record("the first SUBMIT failed")
                return
            }
            lines[wait] = "WAIT \(try ProtocolJSON.decode(SubmitPayload.self, from: json).id)"
            lines.removeFirst()
        }
        let tooLong = "SUBMIT echo " + String(repeating: "x", count: 5000)
        try connection.write(bytes: Array((lines + [tooLong]).map { $0 + "\n" }.joined().utf8))
        for line in lines {
            let reply = try connection.readResponse()
            #expect(reply.isOK, "the reply to \(line) should come before line-too-long, got \(reply.line.prefix(120))")
        }
        #expect(try connection.readResponse().errorCode == .lineTooLong)
        #expect(try connection.readLine() == nil, "the connection should be closed")
    }

    @Test("a client that disconnects mid-line or mid-wait does not disturb the daemon")
    func disconnectingClients() throws {
        let daemon = try DaemonHarness()
        do {
            let halfLine = try daemon.connect()
            try halfLine.write(bytes: Array("SUBMIT no".utf8))
        }
        do {
            let waiter = try daemon.connect()
            let id = try daemon.submit("sleep", "0.3")
            try waiter.write(line: "WAIT \(id) 30")
        }
        let id = try daemon.submit("noop")
        #expect(try daemon.ok(.wait(id: id, timeout: 30), as: FuturePayload.self).state == "finished")
        #expect(try daemon.send(.ping).isOK)
    }

    @Test("a client that never reads its replies is not read from either, and others are served")
    func clientThatNeverReads() throws {
        let daemon = try DaemonHarness()
        // Only the writer thread writes; the test thread only shuts it down, which the socket allows.
        nonisolated(unsafe) let hog = try daemon.connect()
        let flooded = Counter()
        // 64 MiB of PINGs, never reading a reply: the daemon must stop reading this client once its
        // replies back up, which leaves this writer blocked instead of the daemon's memory growing.
        let writer = Thread {
            let chunk = [UInt8](String(repeating: "PING\n", count: 10_000).utf8)
            for _ in 0..<1_300 {
                guard (try? hog.write(bytes: chunk)) != nil else { break }
                flooded.add(chunk.count)
            }
        }
        writer.start()
        // Wait until the writer is stuck: no progress for a while although it is far from done.
        var last = -1
        while flooded.count != last {
            last = flooded.count
            usleep(200_000)
        }
        #expect(flooded.count < 1_300 * 50_000, "the daemon read everything: no back-pressure")
        let rss = daemon.residentKiB
        #expect(rss < 200_000, "daemon RSS \(rss) KiB while a client does not read")
        #expect(try daemon.send(.ping).isOK, "other clients are served meanwhile")
        hog.shutdownBoth()
        #expect(try daemon.send(.ping).isOK)
    }

    @Test("WAIT with a timeout answers timed-out; CANCEL cancels a pending task only")
    func waitTimeoutAndCancel() async throws {
        var configuration = DaemonConfiguration()
        configuration.scheduler.maxWorkers = 1
        try await InProcessDaemon.run(configuration: configuration) { daemon in
            let running = try daemon.submit(InProcessDaemon.gateTask)
            #expect(daemon.gateArrivals.wait(until: 1))
            let pending = try daemon.submit("noop")
            #expect(try daemon.send(.wait(id: pending, timeout: 0.05)).errorCode == .timedOut)
            #expect(try daemon.ok(.cancel(id: pending), as: FuturePayload.self).state == "cancelled")
            #expect(try daemon.send(.cancel(id: running)).errorCode == .notPending)
            let status = try daemon.ok(.status, as: StatusPayload.self)
            #expect(status.cancelled == 1 && status.running == 1 && status.workers == 1)
        }
    }

    @Test("past max_pending a SUBMIT gets queue-full, and every accepted task still runs")
    func queueFull() async throws {
        var configuration = DaemonConfiguration()
        configuration.scheduler.maxWorkers = 1
        configuration.scheduler.maxPending = 3
        try await InProcessDaemon.run(configuration: configuration) { daemon in
            let blocker = try daemon.submit(InProcessDaemon.gateTask)
            #expect(daemon.gateArrivals.wait(until: 1))
            var accepted = [blocker]
            var refused = 0
            for _ in 0..<10 {
                switch try daemon.send(.submit(task: "noop", arguments: [])) {
                case .ok(let json): accepted.append(try ProtocolJSON.decode(SubmitPayload.self, from: json).id)
                case .error(let code, _):
                    #expect(code == .queueFull)
                    refused += 1
                }
            }
            #expect(accepted.count == 4 && refused == 7)
            daemon.gate.open()
            for id in accepted {
                #expect(try daemon.ok(.wait(id: id, timeout: 30), as: FuturePayload.self).state == "finished")
            }
        }
    }

    @Test("an in-process daemon serves the real socket, logs to the test, and stops as SIGTERM would")
    func inProcessDaemon() async throws {
        let daemon = try await InProcessDaemon()
        let id = try daemon.submit("now")
        #expect(try daemon.ok(.wait(id: id, timeout: 30), as: FuturePayload.self).state == "finished")
        #expect(daemon.log.contains("pybgd ready"))
        try await daemon.stop()
        #expect(daemon.log.contains("pybgd stopped"), "\(daemon.log.text)")
        #expect(!FileManager.default.fileExists(atPath: daemon.socketPath))
    }

    @Test("past max_connections a new client is told too-many-connections")
    func connectionLimit() throws {
        let daemon = try DaemonHarness(config: "server: {max_connections: 2}")
        // The harness's own readiness connection may take a moment to be counted as closed.
        func admitted() throws -> ControlConnection {
            let deadline = Date().addingTimeInterval(30)
            while true {
                let connection = try daemon.connect()
                if (try? connection.send(.ping))?.isOK == true { return connection }
                guard Date() < deadline else { throw HarnessError("no connection admitted") }
                usleep(5_000)
            }
        }
        let first = try admitted()
        let second = try admitted()
        #expect(try first.send(.ping).isOK && second.send(.ping).isOK)
        let third = try daemon.connect()
        #expect(try third.readResponse().errorCode == .tooManyConnections)
    }

    @Test("SIGTERM: new tasks refused, running tasks finish, waiting clients answered, socket removed, exit 0")
    func gracefulShutdownOnSIGTERM() throws {
        let daemon = try DaemonHarness()
        let running = try daemon.submit("sleep", "0.5")
        let timer = try daemon.submit("timer", "3600")
        let waiter = try daemon.connect()
        try waiter.write(line: "WAIT \(running)")
        let other = try daemon.connect()
        daemon.signal(SIGTERM)
        // Until the drain ends the daemon still answers, but takes no new task.
        var refusal: Response?
        for _ in 0..<200 {
            let reply = try other.send(.submit(task: "noop", arguments: []))
            if reply.errorCode == .shuttingDown {
                refusal = reply
                break
            }
            usleep(2_000)
        }
        #expect(refusal != nil, "SUBMIT during shutdown should be refused with shutting-down")
        guard case .ok(let json) = try waiter.readResponse() else {
            Issue.record("the waiting client got no answer")
            return
        }
        #expect(try ProtocolJSON.decode(FuturePayload.self, from: json).state == "finished")
        #expect(daemon.waitForExit())
        #expect(daemon.process.terminationStatus == 0, "\(daemon.log)")
        #expect(!FileManager.default.fileExists(atPath: daemon.socketPath))
        #expect(daemon.log.contains("pybgd stopped"))
        _ = timer
    }

    @Test("SHUTDOWN wait replies once every task ended; past the timeout running tasks are cancelled")
    func shutdownVerbWithTimeout() throws {
        let daemon = try DaemonHarness(config: "shutdown: {timeout_seconds: 0.3}")
        let long = try daemon.submit("sleep", "3600")
        let connection = try daemon.connect()
        let reply = try connection.send(.shutdown(wait: true))
        let payload = try ProtocolJSON.decode(ShutdownPayload.self, from: reply.okJSON ?? "")
        #expect(payload.waited && payload.running == 0)
        #expect(daemon.waitForExit())
        #expect(daemon.process.terminationStatus == 0)
        #expect(daemon.log.contains("shutdown timeout ran out"))
        _ = long
    }

    @Test("a stale socket file is replaced; a live daemon's socket is refused with exit 69")
    func staleAndLiveSockets() throws {
        let daemon = try DaemonHarness()
        // Live: a second daemon on the same path must refuse.
        let second = Process()
        second.executableURL = DaemonHarness.binary
        second.arguments = ["--socket", daemon.socketPath]
        let errors = Pipe()
        second.standardError = errors
        try second.run()
        second.waitUntilExit()
        #expect(second.terminationStatus == 69)
        #expect(String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).contains("already running"))
        #expect(try daemon.send(.ping).isOK, "the first daemon keeps serving")

        // Stale: SIGKILL leaves the file behind; the next daemon replaces it.
        daemon.signal(SIGKILL)
        #expect(daemon.waitForExit())
        #expect(FileManager.default.fileExists(atPath: daemon.socketPath))
        let third = Process()
        third.executableURL = DaemonHarness.binary
        third.arguments = ["--socket", daemon.socketPath]
        third.standardError = FileHandle.nullDevice
        try third.run()
        defer {
            third.terminate()
            third.waitUntilExit()
        }
        let deadline = Date().addingTimeInterval(30)
        var answered = false
        while Date() < deadline && !answered {
            answered = (try? ControlConnection(path: daemon.socketPath).send(.ping).isOK) ?? false
            if !answered { usleep(5_000) }
        }
        #expect(answered)
    }

    @Test("a config error exits 78 and names the key")
    func configErrorExit() throws {
        let directory = try TemporaryDirectory.make("pybgd-cfg")
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("bad.yaml")
        try "server:\n  max_conections: 5\n".write(to: config, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = DaemonHarness.binary
        process.arguments = ["--config", config.path, "--socket", directory.appendingPathComponent("s").path]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 78)
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(message.contains("bad.yaml:2: server.max_conections: unknown key"), "\(message)")
    }

    @Test("command tasks: argv only, exit status, signal, timeout and bounded output become clear states")
    func commandTasks() throws {
        let daemon = try DaemonHarness(
            config: """
                tasks:
                  - {name: echo, argv: [echo, "{message}"], parameters: [{name: message, type: string}]}
                  - {name: fail, argv: [sh, -c, "echo oops >&2; exit 3"]}
                  - {name: killed, argv: [sh, -c, "kill -9 $$"]}
                  - {name: slow, argv: [sleep, "30"], timeout_seconds: 0.3}
                  - {name: chatty, argv: [head, -c, "3000000", /dev/zero], max_output_bytes: 100}
                """)
        let marker = daemon.directory.appendingPathComponent("pwned").path
        let hostile = "$(touch \(marker)); rm -rf / `touch \(marker)` ../../etc/passwd"
        let echo = try daemon.ok(.wait(id: try daemon.submit("echo", hostile), timeout: 30), as: FuturePayload.self)
        #expect(echo.state == "finished")
        #expect(echo.result?.objectValue?["stdout"] == .string(hostile + "\n"))
        #expect(!FileManager.default.fileExists(atPath: marker))

        let fail = try daemon.ok(.wait(id: try daemon.submit("fail"), timeout: 30), as: FuturePayload.self)
        #expect(fail.state == "failed" && fail.error?.code == "exit-status" && fail.error?.message.contains("oops") == true)
        #expect(fail.error?.detail?.objectValue?["exit_status"] == .int(3))

        let killed = try daemon.ok(.wait(id: try daemon.submit("killed"), timeout: 30), as: FuturePayload.self)
        #expect(killed.error?.code == "signalled" && killed.error?.detail?.objectValue?["signal"] == .int(9))

        let slow = try daemon.ok(.wait(id: try daemon.submit("slow"), timeout: 30), as: FuturePayload.self)
        #expect(slow.error?.code == "timed-out")
        #expect((slow.durationSeconds ?? 99) < 10)

        let chatty = try daemon.ok(.wait(id: try daemon.submit("chatty"), timeout: 30), as: FuturePayload.self)
        #expect(chatty.state == "finished")
        #expect(chatty.result?.objectValue?["stdout_truncated"] == .bool(true))
        #expect(chatty.result?.objectValue?["stdout"].map { $0.displayText.utf8.count } == 100)
    }

    @Test(
        "command-task arguments reach the program as argv, never through a shell or the template",
        arguments: [
            "$(touch MARKER)", "`touch MARKER`", "; touch MARKER", "| touch MARKER", "&& touch MARKER", "> MARKER",
            "../../etc/passwd", "{path}", "{{path}}", "%s%n%x", "-n", "--help", "*", "~", "$HOME", "a\nb", "'\"\\",
            String(repeating: "A", count: 60_000),
        ])
    func argumentsAreNotInterpreted(_ argument: String) throws {
        let daemon = try DaemonHarness(
            config: """
                tasks:
                  - {name: show, argv: [printf, "%s|", "{text}", "{path}"], parameters: [{name: text, type: string}, {name: path, type: string, default: fixed}]}
                """)
        let marker = daemon.directory.appendingPathComponent("MARKER").path
        let hostile = argument.replacingOccurrences(of: "MARKER", with: marker)
        let shown = try daemon.ok(.wait(id: try daemon.submit("show", hostile), timeout: 30), as: FuturePayload.self)
        #expect(shown.state == "finished")
        #expect(shown.result?.objectValue?["stdout"] == .string(hostile + "|fixed|"))
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test("TASKS, FUTURES and LIST report the tables and the registry")
    func tables() throws {
        let daemon = try DaemonHarness()
        let ids = try (0..<5).map { _ in try daemon.submit("noop") }
        _ = try daemon.ok(.wait(id: ids.last!, timeout: 30), as: FuturePayload.self)
        let tasks = try daemon.ok(.tasks(limit: .mostRecent(2)), as: TasksPayload.self)
        #expect(tasks.total == 5 && tasks.tasks.map(\.id) == Array(ids.suffix(2)))
        let futures = try daemon.ok(.futures(limit: .all), as: FuturesPayload.self)
        #expect(futures.futures.map(\.id) == ids)
        let list = try daemon.ok(.list, as: ListPayload.self)
        #expect(list.tasks.map(\.name) == ["noop", "now", "sleep", "timer", "utcnow"])
    }
}
