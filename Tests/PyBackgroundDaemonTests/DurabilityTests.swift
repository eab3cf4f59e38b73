import Foundation
import PyBackgroundClient
import PyBackgroundProtocol
import PyBackgroundTesting
import Testing

/// Restarts, crashes and the state store: nothing acknowledged is lost, nothing runs twice.
@Suite("durable task state", .serialized)
struct DurabilityTests {
    /// Keeps every ended task, so that a whole load can be checked after the restart.
    static let keepAll = "scheduler: {keep_finished: null, max_workers: 2}"

    @Test("SIGKILL during a pipelined load of 10,000 SUBMITs: every acknowledged id comes back and ends finished, none twice")
    func killDuringPipelinedLoad() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(at: directory) }
        var acknowledged: [String] = []
        do {
            let daemon = try DaemonHarness(config: Self.keepAll, directory: directory)
            let connection = try daemon.connect()
            let total = 10_000
            let batch = Array(String(repeating: "SUBMIT noop\n", count: total).utf8)
            // Written from another thread while this one reads, as a pipelining client does; the
            // connection's send and receive sides do not share state.
            nonisolated(unsafe) let sender = connection
            let writer = Thread { try? sender.write(bytes: batch) }
            writer.start()
            // Read replies until the daemon dies under us: kill it early in the load, while thousands
            // of SUBMITs are read, evaluated or being committed.
            while let line = try? connection.readLine() {
                guard case .ok(let json) = try Response(parsing: line) else {
                    Issue.record("refused: \(line)")
                    return
                }
                acknowledged.append(try ProtocolJSON.decode(SubmitPayload.self, from: json).id)
                if acknowledged.count == 1 { daemon.signal(SIGKILL) }
            }
            #expect(daemon.waitForExit())
            #expect(daemon.process.terminationReason == .uncaughtSignal)
            #expect(
                acknowledged.count >= 1 && acknowledged.count < total,
                "the kill should land mid-load, after \(acknowledged.count) replies")
        }

        let restarted = try DaemonHarness(config: Self.keepAll, directory: directory)
        let status = try awaitIdle(restarted)
        let futures = try restarted.ok(.futures(limit: .all), as: FuturesPayload.self).futures
        let ids = futures.map(\.id)
        #expect(Set(ids).count == ids.count, "an id appears twice in the table")
        let states = Dictionary(futures.map { ($0.id, $0.state) }, uniquingKeysWith: { first, _ in first })
        let missing = acknowledged.filter { states[$0] == nil }
        #expect(missing.isEmpty, "\(missing.count) acknowledged ids are gone, e.g. \(missing.prefix(3))")
        let unfinished = acknowledged.filter { states[$0] != nil && states[$0] != "finished" }
        #expect(unfinished.isEmpty, "\(unfinished.count) acknowledged tasks did not end finished: \(unfinished.prefix(3).map { "\($0) \(states[$0]!)" })")
        #expect(status.finished == futures.count)
    }

    @Test("SIGKILL while tasks run: retry-safe ones run again, others end interrupted, pending ones run")
    func killWhileTasksRun() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(at: directory) }
        let marker = directory.appendingPathComponent("long-started").path
        let config = """
            scheduler: {max_workers: 2}
            tasks:
              - name: long
                argv: [sh, -c, "touch \(marker); exec sleep 10"]
            """
        let (long, retrySafe, pending): (String, String, String)
        do {
            let daemon = try DaemonHarness(config: config, directory: directory)
            long = try daemon.submit("long")
            retrySafe = try daemon.submit("sleep", "1")
            pending = try daemon.submit("noop")
            // The command has begun its work, so its start is on disk (it is written before the body runs).
            try awaitStatus(daemon) { $0.running == 2 && FileManager.default.fileExists(atPath: marker) }
            daemon.signal(SIGKILL)
            #expect(daemon.waitForExit())
        }

        let restarted = try DaemonHarness(config: config, directory: directory)
        let interrupted = try restarted.ok(.result(id: long), as: FuturePayload.self)
        #expect(interrupted.state == "interrupted")
        #expect(interrupted.error?.code == "interrupted")
        #expect(interrupted.error?.message.contains("retry_if_interrupted") == true, "\(interrupted)")
        #expect(interrupted.startedAt != nil)
        for id in [retrySafe, pending] {
            let future = try restarted.ok(.wait(id: id, timeout: 30), as: FuturePayload.self)
            #expect(future.state == "finished", "\(future)")
        }
        let status = try restarted.ok(.status, as: StatusPayload.self)
        #expect(status.interrupted == 1 && status.latestID == pending)
    }

    @Test("a graceful restart keeps the history: states, results, errors and latest_id read as before")
    func gracefulRestartKeepsHistory() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = """
            tasks:
              - name: fail
                argv: [sh, -c, "echo oops >&2; exit 3"]
            """
        let before: [FuturePayload]
        let latest: String?
        do {
            let daemon = try DaemonHarness(config: config, directory: directory)
            let ids = [try daemon.submit("now", "cost=0"), try daemon.submit("sleep", "0.01"), try daemon.submit("fail")]
            for id in ids { _ = try daemon.ok(.wait(id: id, timeout: 30), as: FuturePayload.self) }
            before = try daemon.ok(.futures(limit: .all), as: FuturesPayload.self).futures
            latest = try daemon.ok(.latest, as: LatestPayload.self).latestID
            _ = try daemon.send(.shutdown(wait: true))
            #expect(daemon.waitForExit())
        }
        let restarted = try DaemonHarness(config: config, directory: directory)
        let after = try restarted.ok(.futures(limit: .all), as: FuturesPayload.self).futures
        // Durations are recomputed from the stored times: equal within a microsecond, not to the last bit.
        let withoutDurations = { (futures: [FuturePayload]) in
            futures.map { future in
                var future = future
                future.durationSeconds = nil
                return future
            }
        }
        #expect(withoutDurations(after) == withoutDurations(before))
        for (old, new) in zip(before, after) {
            #expect(abs((old.durationSeconds ?? -1) - (new.durationSeconds ?? 1)) < 1e-6)
        }
        #expect(try restarted.ok(.latest, as: LatestPayload.self).latestID == latest)
        #expect(after.map(\.state) == ["finished", "finished", "failed"])
        #expect(after[2].error?.code == "exit-status")
    }

    @Test("tasks the shutdown timeout cancels stay queued in the store and run at the next start")
    func shutdownTimeoutKeepsQueuedTasks() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = "scheduler: {max_workers: 1}\nshutdown: {timeout_seconds: 0.2}"
        let (running, queued): (String, String)
        do {
            let daemon = try DaemonHarness(config: config, directory: directory)
            running = try daemon.submit("sleep", "1")
            queued = try daemon.submit("now", "cost=0")
            try awaitStatus(daemon) { $0.running == 1 }
            _ = try daemon.send(.shutdown(wait: true))
            #expect(daemon.waitForExit())
            #expect(daemon.process.terminationStatus == 0)
        }
        let restarted = try DaemonHarness(config: config, directory: directory)
        for id in [running, queued] {
            #expect(try restarted.ok(.wait(id: id, timeout: 30), as: FuturePayload.self).state == "finished")
        }
    }

    @Test("CLEAN removes ended tasks from the tables and the store; pending and running ones stay")
    func clean() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = "scheduler: {max_workers: 1}"
        let running: String
        do {
            let daemon = try DaemonHarness(config: config, directory: directory)
            let done = [try daemon.submit("noop"), try daemon.submit("noop")]
            for id in done { _ = try daemon.ok(.wait(id: id, timeout: 30), as: FuturePayload.self) }
            running = try daemon.submit("sleep", "0.5")
            #expect(try daemon.ok(.clean(olderThan: 3600), as: CleanPayload.self).removed == 0)
            #expect(try daemon.ok(.clean(olderThan: nil), as: CleanPayload.self).removed == 2)
            #expect(try daemon.ok(.futures(limit: .all), as: FuturesPayload.self).futures.map(\.id) == [running])
            _ = try daemon.send(.shutdown(wait: true))
            #expect(daemon.waitForExit())
        }
        let restarted = try DaemonHarness(config: config, directory: directory)
        #expect(try restarted.ok(.futures(limit: .all), as: FuturesPayload.self).futures.map(\.id) == [running])
    }

    @Test("latest_id survives a restart after CLEAN removed the latest task")
    func latestAfterClean() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(at: directory) }
        let latest: String
        do {
            let daemon = try DaemonHarness(directory: directory)
            _ = try daemon.submit("noop")
            latest = try daemon.submit("noop")
            _ = try daemon.ok(.wait(id: latest, timeout: 30), as: FuturePayload.self)
            #expect(try daemon.ok(.clean(olderThan: nil), as: CleanPayload.self).removed == 2)
            #expect(try daemon.ok(.latest, as: LatestPayload.self).latestID == latest)
            _ = try daemon.send(.shutdown(wait: true))
            #expect(daemon.waitForExit())
        }
        let restarted = try DaemonHarness(directory: directory)
        #expect(try restarted.ok(.latest, as: LatestPayload.self).latestID == latest)
        #expect(try restarted.ok(.futures(limit: .all), as: FuturesPayload.self).futures.isEmpty)
    }

    @Test("retention by age drops old ended tasks from the tables")
    func retentionByAge() throws {
        let daemon = try DaemonHarness(config: "scheduler: {keep_finished_seconds: 1}")
        let id = try daemon.submit("noop")
        _ = try daemon.ok(.wait(id: id, timeout: 30), as: FuturePayload.self)
        try awaitStatus(daemon, timeout: 30) { $0.retained == 0 }
    }

    @Test("a damaged state store stops the start with exit 74, names the file, and is left untouched")
    func corruptStore() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("pybgd.sqlite")
        let garbage = Data("this is not a database, whatever its name says\n".utf8 + Array(repeating: 0x5A, count: 4096))
        try garbage.write(to: path)
        let daemon = try DaemonHarness(directory: directory, waitForAnswer: false)
        #expect(daemon.waitForExit())
        #expect(daemon.process.terminationStatus == 74)
        #expect(daemon.log.contains(path.path) && daemon.log.contains("move it aside"), "\(daemon.log)")
        #expect(try Data(contentsOf: path) == garbage)
        #expect(!FileManager.default.fileExists(atPath: daemon.socketPath))
    }

    @Test("a second pybgd on the same state store is refused with exit 74")
    func storeHeldByAnother() throws {
        let first = try DaemonHarness()
        let second = try DaemonHarness(arguments: ["--state", first.statePath], waitForAnswer: false)
        #expect(second.waitForExit())
        #expect(second.process.terminationStatus == 74)
        #expect(second.log.contains("another pybgd"), "\(second.log)")
        _ = try first.ok(.ping, as: PingPayload.self)
    }

    @Test("--state memory keeps nothing across a restart")
    func memoryMode() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(at: directory) }
        do {
            let daemon = try DaemonHarness(arguments: ["--state", "memory"], directory: directory)
            _ = try daemon.submit("noop")
            #expect(try daemon.ok(.status, as: StatusPayload.self).stateStore == "memory")
            _ = try daemon.send(.shutdown(wait: true))
            #expect(daemon.waitForExit())
        }
        let restarted = try DaemonHarness(arguments: ["--state", "memory"], directory: directory)
        #expect(try restarted.ok(.status, as: StatusPayload.self).retained == 0)
        #expect(!FileManager.default.fileExists(atPath: restarted.statePath))
    }

    // MARK: - Helpers

    /// Polls STATUS until `condition` holds: the daemon has no way to push a state change to us.
    @discardableResult
    func awaitStatus(
        _ daemon: DaemonHarness, timeout: TimeInterval = 30,
        _ condition: (StatusPayload) -> Bool
    ) throws -> StatusPayload {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let status = try daemon.ok(.status, as: StatusPayload.self)
            if condition(status) { return status }
            guard Date() < deadline else { throw HarnessError("condition not reached within \(timeout) s: \(status)") }
            usleep(10_000)
        }
    }

    func awaitIdle(_ daemon: DaemonHarness) throws -> StatusPayload {
        try awaitStatus(daemon, timeout: 60) { $0.pending == 0 && $0.running == 0 }
    }
}
