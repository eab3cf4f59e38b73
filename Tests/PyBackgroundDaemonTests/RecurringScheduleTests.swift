import Foundation
import PyBackgroundProtocol
import PyBackgroundTesting
import Testing

/// The daemon's recurring schedules with the real pybgd: restarts under each misfire policy, a
/// SIGKILL in a burst of firings, the config reconciled on SIGHUP, and pybgctl's face of them.
@Suite("recurring schedules in the daemon", .serialized)
struct RecurringScheduleTests {
    /// Every task a schedule made, by tick.
    static func ticks(_ daemon: DaemonHarness, schedule: String) throws -> [Double] {
        try daemon.ok(.futures(limit: .all), as: FuturesPayload.self).futures.filter { $0.schedule == schedule }.compactMap(\.tick).sorted()
    }

    /// Polls a schedule until `condition` holds (firings take real time: the test awaits them).
    @discardableResult
    static func awaitSchedule(
        _ daemon: DaemonHarness, _ name: String, timeout: TimeInterval = 30, _ condition: (SchedulePayload) -> Bool
    ) throws -> SchedulePayload {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let schedule = try daemon.ok(.schedule(.show(name: name)), as: SchedulePayload.self)
            if condition(schedule) { return schedule }
            guard Date() < deadline else { throw HarnessError("schedule \(name) did not get there within \(timeout) s: \(schedule)") }
            usleep(20_000)
        }
    }

    @Test("after downtime: misfire skip runs none of the missed ticks, once runs one for all, all runs each; no tick twice")
    func misfireAfterRestart() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(at: directory) }
        // A grid of 6 s ticks pinned by start=, so the restart can land halfway between two ticks:
        // the latest missed tick is then 3 s old, past the 1 s grace, and the next 3 s away (a slow start has room).
        let period = 6.0
        let start = ((Date().timeIntervalSince1970 + 2) / period).rounded(.up) * period
        let startText = Timestamp(Date(timeIntervalSince1970: start), offsetSeconds: 0).description
        let config = """
            scheduler: {keep_finished: null}
            schedules:
              - {name: skip, task: noop, every: 6s, start: "\(startText)", misfire: skip}
              - {name: once, task: noop, every: 6s, start: "\(startText)", misfire: once}
              - {name: all, task: noop, every: 6s, start: "\(startText)", misfire: all}
            """
        let names = ["skip", "once", "all"]
        var stoppedAt = 0.0
        do {
            let daemon = try DaemonHarness(config: config, directory: directory)
            for name in names { try Self.awaitSchedule(daemon, name) { $0.lastState == "finished" } }
            #expect(try daemon.send(.shutdown(wait: true)).isOK)
            #expect(daemon.waitForExit())
            stoppedAt = Date().timeIntervalSince1970
        }
        // Down across at least two ticks, back 2 s after one.
        let latestMissed = ((stoppedAt + 2 * period) / period).rounded(.up) * period
        Thread.sleep(until: Date(timeIntervalSince1970: latestMissed + period / 2))
        let daemon = try DaemonHarness(config: config, directory: directory)
        for name in names { try Self.awaitSchedule(daemon, name) { ($0.lastTick ?? 0) >= latestMissed } }
        var caughtUp: [String: [Double]] = [:]
        for name in names {
            let ticks = try Self.ticks(daemon, schedule: name)
            #expect(Set(ticks).count == ticks.count, "\(name): a tick has two tasks: \(ticks)")
            // The last tick the first life consumed: a firing is written up to half a second ahead
            // of its tick (its task waits, scheduled, and runs after the restart as that tick's).
            let consumed = try #require(ticks.last { $0 <= stoppedAt + 0.5 })
            caughtUp[name] = ticks.filter { $0 > consumed && $0 <= latestMissed }
            #expect(ticks.allSatisfy { ($0 - start).truncatingRemainder(dividingBy: period) == 0 }, "\(name): off the grid: \(ticks)")
        }
        #expect(caughtUp["skip"] == [], "skip made up missed ticks: \(caughtUp)")
        #expect(caughtUp["once"] == [latestMissed], "once should run the latest missed tick once: \(caughtUp)")
        let allBefore = try #require(try Self.ticks(daemon, schedule: "all").last { $0 <= stoppedAt + 0.5 })
        #expect(caughtUp["all"] == Array(stride(from: allBefore + period, through: latestMissed, by: period)), "\(caughtUp)")
        #expect((caughtUp["all"]?.count ?? 0) >= 2)
    }

    @Test("SIGKILL during a burst of firings, then a restart: every tick of every schedule has exactly one task")
    func killDuringBurst() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(at: directory) }
        let count = 40
        let config =
            "scheduler: {keep_finished: null, max_workers: 4}\nschedules:\n"
            + (0..<count).map { "  - {name: s\($0), task: noop, every: 1s, misfire: all}" }.joined(separator: "\n")
        var killedAt = 0.0
        do {
            let daemon = try DaemonHarness(config: config, directory: directory)
            // Several rounds of 40 firings a second, then the kill lands amid the next round.
            try Self.awaitSchedule(daemon, "s0") { $0.runs >= 3 }
            daemon.signal(SIGKILL)
            #expect(daemon.waitForExit())
            killedAt = Date().timeIntervalSince1970
        }
        let daemon = try DaemonHarness(config: config, directory: directory)
        for index in 0..<count { try Self.awaitSchedule(daemon, "s\(index)") { ($0.lastTick ?? 0) > killedAt + 1 } }
        let futures = try daemon.ok(.futures(limit: .all), as: FuturesPayload.self).futures
        for index in 0..<count {
            let ticks = futures.filter { $0.schedule == "s\(index)" }.compactMap(\.tick).sorted()
            #expect(Set(ticks).count == ticks.count, "s\(index): a tick has two tasks")
            // misfire all: from the first tick to the last, every 1 s tick has its task, none missing.
            let gaps = zip(ticks, ticks.dropFirst()).filter { abs($1 - $0 - 1) > 0.001 }
            #expect(gaps.isEmpty, "s\(index): ticks missing between \(gaps.prefix(3))")
            #expect((ticks.first ?? .infinity) < killedAt && (ticks.last ?? 0) > killedAt)
        }
        let states = Set(futures.map(\.state))
        // Scheduled: the firings written ahead for the next tick.
        #expect(states.isSubset(of: ["finished", "pending", "running", "scheduled"]), "\(states)")
    }

    @Test("SIGHUP reconciles the config's schedules (added, changed, removed) and leaves runtime ones alone")
    func reloadReconciles() throws {
        let daemon = try DaemonHarness(
            config: """
                schedules:
                  - {name: kept, task: noop, every: 1h}
                  - {name: changed, task: noop, every: 1h}
                  - {name: dropped, task: noop, every: 1h}
                """)
        let added = try daemon.ok(
            .schedule(.add(name: "mine", spec: ScheduleSpec(trigger: .cron("0 3 * * *"), timeZone: "UTC", task: "noop"))), as: SchedulePayload.self)
        #expect(added.origin == "runtime" && added.nextRun != nil)
        try """
        schedules:
          - {name: kept, task: noop, every: 1h}
          - {name: changed, task: now, args: ["0"], cron: "*/5 * * * *", misfire: skip}
          - {name: new, task: noop, every: 2h}
        """.write(to: daemon.directory.appendingPathComponent("pybgd.yaml"), atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        let deadline = Date().addingTimeInterval(30)
        var names: [String] = []
        while Date() < deadline {
            names = try daemon.ok(.schedule(.list), as: SchedulesPayload.self).schedules.map(\.name)
            if names == ["changed", "kept", "mine", "new"] { break }
            usleep(20_000)
        }
        #expect(names == ["changed", "kept", "mine", "new"])
        let changed = try daemon.ok(.schedule(.show(name: "changed")), as: SchedulePayload.self)
        #expect(changed.trigger == "cron */5 * * * *" && changed.task == "now" && changed.misfire == "skip")
        #expect(try daemon.ok(.schedule(.show(name: "mine")), as: SchedulePayload.self) == added)

        guard case .error(.badRequest, let message) = try daemon.send(.schedule(.remove(name: "kept"))) else {
            Issue.record("a config schedule was removed at run time")
            return
        }
        #expect(message.contains("declared in the config file"))

        // A config that does not check is refused as a whole: nothing changes. Reloads are taken
        // in order, so once a later good one shows, the bad one has been refused.
        let path = daemon.directory.appendingPathComponent("pybgd.yaml")
        try "schedules:\n  - {name: kept, task: nosuch, every: 1h}\n".write(to: path, atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        // Two SIGHUPs close together may be taken as one: let the first be read alone.
        usleep(500_000)
        try "schedules:\n  - {name: kept, task: noop, every: 1h}\n  - {name: marker, task: noop, every: 1h}\n".write(
            to: path, atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        // The reload adds marker before it removes changed and new: await the whole of it.
        let reloaded = Date().addingTimeInterval(30)
        var after: [String] = []
        while Date() < reloaded {
            after = try daemon.ok(.schedule(.list), as: SchedulesPayload.self).schedules.map(\.name)
            if after == ["kept", "marker", "mine"] { break }
            usleep(20_000)
        }
        #expect(after == ["kept", "marker", "mine"])
        #expect(try daemon.send(.shutdown(wait: true)).isOK)
        #expect(daemon.waitForExit())
        #expect(daemon.log.contains("reload refused") && daemon.log.contains("no task named"), "\(daemon.log)")
    }

    @Test("a stored schedule whose task is gone after a restart is listed with why it does not fire, and can be removed")
    func unusableAfterRestart() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(at: directory) }
        do {
            let daemon = try DaemonHarness(config: "tasks:\n  - {name: hello, argv: [echo, hi]}", directory: directory)
            _ = try daemon.ok(.schedule(.add(name: "greet", spec: ScheduleSpec(trigger: .every(.seconds(3600)), task: "hello"))), as: SchedulePayload.self)
            #expect(try daemon.send(.shutdown(wait: true)).isOK)
            #expect(daemon.waitForExit())
        }
        let daemon = try DaemonHarness(config: "", directory: directory)
        let shown = try daemon.ok(.schedule(.show(name: "greet")), as: SchedulePayload.self)
        #expect(shown.nextRun == nil && shown.error?.contains("does not fire: no task named \"hello\"") == true, "\(shown)")
        #expect(try daemon.ok(.schedule(.remove(name: "greet")), as: SchedulePayload.self).name == "greet")
        #expect(try daemon.ok(.schedule(.list), as: SchedulesPayload.self).schedules.isEmpty)
    }

    @Test("a reload checks every schedule against the new tasks: one added at run time whose task is gone stops, with why")
    func reloadRechecksRuntimeSchedules() throws {
        let daemon = try DaemonHarness(config: "tasks:\n  - {name: hello, argv: [echo, hi]}")
        _ = try daemon.ok(.schedule(.add(name: "greet", spec: ScheduleSpec(trigger: .every(.seconds(3600)), task: "hello"))), as: SchedulePayload.self)
        try "tasks: []\n".write(to: daemon.directory.appendingPathComponent("pybgd.yaml"), atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        let stopped = try Self.awaitSchedule(daemon, "greet") { $0.error != nil }
        #expect(stopped.nextRun == nil && stopped.error?.contains("no task named \"hello\"") == true, "\(stopped)")
    }

    @Test("a firing is written half a second ahead, its task waiting scheduled for the tick; a pause cancels it")
    func firingWrittenAhead() throws {
        let daemon = try DaemonHarness(config: "state: {store: memory}\nschedules:\n  - {name: beat, task: noop, every: 1s}")
        let ahead = try Self.awaitSchedule(daemon, "beat") { $0.lastState == "scheduled" }
        let waiting = try daemon.ok(.result(id: try #require(ahead.lastTask)), as: FuturePayload.self)
        #expect(waiting.state == "scheduled" && waiting.runAt == waiting.tick && waiting.tick == ahead.lastTick, "\(waiting)")
        _ = try daemon.ok(.schedule(.pause(name: "beat")), as: SchedulePayload.self)
        let after = try daemon.ok(.result(id: waiting.id), as: FuturePayload.self)
        // Cancelled, unless its tick came between the two requests and it ran.
        #expect(after.state == "cancelled" || after.startedAt.map { $0 >= waiting.tick! } == true, "\(after)")
    }

    @Test("overlap skip holds across a restart: ticks do not fire while the task recovered from the last life still runs")
    func overlapAcrossRestart() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = "scheduler: {keep_finished: null}\nschedules:\n  - {name: slow, task: sleep, args: [\"4\"], every: 1s, overlap: skip}"
        do {
            let daemon = try DaemonHarness(config: config, directory: directory)
            try Self.awaitSchedule(daemon, "slow") { $0.lastState == "running" }
            daemon.signal(SIGKILL)
            #expect(daemon.waitForExit())
        }
        let daemon = try DaemonHarness(config: config, directory: directory)
        // The retry-safe sleep runs again; the ticks meanwhile are skipped, not stacked beside it.
        let schedule = try Self.awaitSchedule(daemon, "slow") { $0.skipped >= 2 }
        #expect(schedule.runs == 0 && schedule.lastState == "running", "\(schedule)")
        #expect(try Self.ticks(daemon, schedule: "slow").count == 1)
    }

    @Test("pybgctl schedule: add, list, show, pause, resume, remove; a bad definition is refused with what is accepted")
    func pybgctlSchedule() throws {
        let daemon = try DaemonHarness(config: "state: {store: memory}")
        func run(_ arguments: String...) throws -> PybgctlTests.Run { try PybgctlTests.pybgctl(arguments, socket: daemon.socketPath) }
        let added = try run("schedule", "add", "beat", "noop", "--every", "1s", "--overlap", "skip")
        #expect(added.status == 0 && added.stdout.hasPrefix("added beat: every 1s, next "), "\(added)")
        let nightly = try run("schedule", "add", "nightly", "now", "0", "--cron", "30 2 * * *", "--tz", "Europe/Berlin", "--misfire", "skip")
        #expect(nightly.status == 0, "\(nightly)")
        try Self.awaitSchedule(daemon, "beat") { $0.lastState == "finished" }
        let list = try run("schedule", "list")
        let lines = list.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.range(of: #"^NAME\s+TRIGGER\s+TASK\s+NEXT\s+LAST\s+STATE$"#, options: .regularExpression) != nil, "\(list.stdout)")
        #expect(
            lines.contains {
                $0.range(of: #"^beat\s+every 1s\s+noop\s+\d{4}-.+\(in \d+ms\)\s+\d{4}-.+ ago\)\s+finished$"#, options: .regularExpression) != nil
            }, "\(list.stdout)")
        #expect(lines.contains { $0.hasPrefix("nightly") && $0.contains("cron 30 2 * * * (Europe/Berlin)") })
        let show = try run("schedule", "show", "nightly")
        #expect(show.stdout.contains("runs:       now 0") && show.stdout.contains("misfire:    skip"), "\(show.stdout)")
        #expect(try run("status").stdout.contains("next:   beat "))
        #expect(try run("schedule", "pause", "beat").stdout == "paused beat\n")
        #expect(try run("schedule", "list").stdout.contains("paused"))
        #expect(try run("schedule", "resume", "beat").stdout.hasPrefix("resumed beat, next "))
        #expect(try run("schedule", "remove", "beat").stdout == "removed beat\n")
        let gone = try run("schedule", "show", "beat")
        #expect(gone.status != 0 && gone.stderr.contains("no schedule named \"beat\""), "\(gone)")
        let bad = try run("schedule", "add", "x", "noop", "--cron", "0 25 * * *")
        #expect(bad.status != 0 && bad.stderr.contains("hour") && bad.stderr.contains("0-23"), "\(bad)")
        let taken = try run("schedule", "add", "nightly", "noop", "--every", "1m")
        #expect(taken.status != 0 && taken.stderr.contains("exists"), "\(taken)")
    }
}
