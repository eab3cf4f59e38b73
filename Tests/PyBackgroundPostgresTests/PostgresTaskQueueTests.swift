import Foundation
import Logging
import PostgresNIO
import PyBackgroundTesting
import Synchronization
import Testing

@testable import PyBackgroundPostgres

/// Claims, leases, fencing and rescue against a real PostgreSQL, several connections standing for
/// several hosts.
@Suite("Hosts sharing the task table: claims, leases, fencing, rescue")
struct PostgresTaskQueueTests {
    static let logger = Logger(label: "test")

    /// A migrated cluster and `hosts` connections, one per host name.
    static func withHosts<Result>(
        _ count: Int, _ body: ([(queue: PostgresTaskQueue, connection: PostgresConnection)]) async throws -> Result
    ) async throws -> Result {
        try await TemporaryPostgres.with { postgres in
            var hosts: [(queue: PostgresTaskQueue, connection: PostgresConnection)] = []
            defer { for host in hosts { Task { try? await host.connection.close() } } }
            for index in 1...count {
                let connection = try await PostgresSchemaTests.connect(postgres, id: index)
                hosts.append((PostgresTaskQueue(host: "host-\(index)", logger: logger), connection))
            }
            try await PostgresSchema.migrate(hosts[0].connection, logger: logger)
            return try await body(hosts)
        }
    }

    static func tasks(_ count: Int, queue: String = "default", name: String = "noop") -> [PostgresTaskQueue.NewTask] {
        (0..<count).map { _ in PostgresTaskQueue.NewTask(id: UUID(), name: name, queue: queue) }
    }

    static func state(_ id: UUID, _ connection: PostgresConnection) async throws -> (String, Int64) {
        let row = try await connection.query("SELECT state, fence FROM pybgd_tasks WHERE id = \(id)", logger: logger).collect()
        return try row[0].decode((String, Int64).self)
    }

    @Test("three hosts claiming at once from 600 tasks: each task claimed exactly once, by one host")
    func exactlyOnce() async throws {
        try await Self.withHosts(3) { hosts in
            let tasks = Self.tasks(600)
            try await hosts[0].queue.insert(tasks, on: hosts[0].connection)
            let claimed = try await withThrowingTaskGroup(of: [UUID].self) { group in
                for host in hosts {
                    group.addTask {
                        var mine: [UUID] = []
                        while true {
                            let claims = try await host.queue.claim(
                                slots: 7, names: ["noop"], lease: .seconds(30), on: host.connection)
                            if claims.isEmpty { return mine }
                            mine += claims.map(\.id)
                        }
                    }
                }
                return try await group.reduce(into: [[UUID]]()) { $0.append($1) }
            }
            let all = claimed.flatMap { $0 }
            #expect(all.count == 600)
            #expect(Set(all) == Set(tasks.map(\.id)))
            #expect(claimed.allSatisfy { !$0.isEmpty }, "every host claimed some: \(claimed.map(\.count))")
        }
    }

    @Test(
        "a claim takes due tasks by priority, then due time, then submission; only names the host has; none of a paused queue; a scheduled task once its time came"
    )
    func order() async throws {
        try await Self.withHosts(1) { hosts in
            let (queue, connection) = hosts[0]
            let low = PostgresTaskQueue.NewTask(id: UUID(), name: "noop")
            let high = PostgresTaskQueue.NewTask(id: UUID(), name: "noop", priority: 5)
            let later = PostgresTaskQueue.NewTask(id: UUID(), name: "noop", priority: 9, runAt: Date().addingTimeInterval(3600))
            let other = PostgresTaskQueue.NewTask(id: UUID(), name: "unknown-here", priority: 9)
            let paused = PostgresTaskQueue.NewTask(id: UUID(), name: "noop", queue: "held", priority: 9)
            try await queue.insert([low, high, later, other, paused], on: connection)
            try await connection.query("INSERT INTO pybgd_queues (name, paused) VALUES ('held', true)", logger: Self.logger)
            let claims = try await queue.claim(slots: 10, names: ["noop"], lease: .seconds(30), on: connection)
            #expect(claims.map(\.id) == [high.id, low.id])
            #expect(try await Self.state(later.id, connection).0 == "scheduled")
            // Its time comes (moved, not waited for): the next claim takes it.
            try await connection.query(
                "UPDATE pybgd_tasks SET run_at = now() - interval '1 second' WHERE id = \(later.id)", logger: Self.logger)
            let due = try await queue.claim(slots: 10, names: ["noop"], lease: .seconds(30), on: connection)
            #expect(due.map(\.id) == [later.id])
        }
    }

    @Test("a queue limit of 2 holds across three hosts claiming at once")
    func queueLimit() async throws {
        try await Self.withHosts(3) { hosts in
            try await hosts[0].connection.query(
                "INSERT INTO pybgd_queues (name, max_running) VALUES ('io', 2)", logger: Self.logger)
            try await hosts[0].queue.insert(Self.tasks(50, queue: "io"), on: hosts[0].connection)
            let claimed = try await withThrowingTaskGroup(of: [(host: String, claim: PostgresTaskQueue.Claim)].self) { group in
                for host in hosts {
                    group.addTask {
                        try await host.queue.claim(slots: 5, names: ["noop"], lease: .seconds(30), on: host.connection)
                            .map { (host.queue.host, $0) }
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(claimed.count == 2)
            // Ending one frees one slot, for whichever host claims next; no more.
            let ender = try #require(hosts.first { $0.queue.host == claimed[0].host })
            #expect(try await ender.queue.recordEnd(claimed[0].claim, state: "finished", outcome: "{}", on: ender.connection))
            let next = try await hosts[2].queue.claim(slots: 5, names: ["noop"], lease: .seconds(30), on: hosts[2].connection)
            #expect(next.count == 1)
        }
    }

    @Test("fencing: a host whose lease ran out and whose task was claimed again cannot write its start or end over the new run")
    func fencing() async throws {
        try await Self.withHosts(2) { hosts in
            let (first, second) = (hosts[0], hosts[1])
            let task = PostgresTaskQueue.NewTask(id: UUID(), name: "noop", retrySafe: true)
            try await first.queue.insert([task], on: first.connection)
            let stale = try #require(
                try await first.queue.claim(slots: 1, names: ["noop"], lease: .milliseconds(50), on: first.connection).first)
            #expect(try await first.queue.recordStart(stale, on: first.connection))
            // The first host stalls (as under SIGSTOP): its lease runs out and the second rescues.
            var rescue = PostgresTaskQueue.Rescue()
            for _ in 0..<200 where rescue.retried.isEmpty {
                rescue = try await second.queue.rescue(crashLimit: 3, on: second.connection)
                if rescue.retried.isEmpty { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(rescue == PostgresTaskQueue.Rescue(retried: [task.id]), "retry-safe: pending again")
            let fresh = try #require(
                try await second.queue.claim(slots: 1, names: ["noop"], lease: .seconds(30), on: second.connection).first)
            #expect(fresh.fence == stale.fence + 1)
            // The first host comes back: every write of its run is refused.
            #expect(try await first.queue.recordStart(stale, on: first.connection) == false)
            #expect(try await first.queue.recordEnd(stale, state: "failed", outcome: #"{"stale":true}"#, on: first.connection) == false)
            #expect(try await first.queue.renewLeases(.seconds(30), on: first.connection) == 0)
            #expect(try await Self.state(task.id, first.connection) == ("running", fresh.fence))
            // The new run's own writes apply.
            #expect(try await second.queue.recordEnd(fresh, state: "finished", outcome: "{}", on: second.connection))
            #expect(try await Self.state(task.id, first.connection) == ("finished", fresh.fence))
        }
    }

    @Test("rescue: retry-safe or with attempts left runs again; else interrupted; the crash limit quarantines")
    func rescuePolicies() async throws {
        try await Self.withHosts(1) { hosts in
            let (queue, connection) = hosts[0]
            let once = PostgresTaskQueue.NewTask(id: UUID(), name: "noop")
            let twice = PostgresTaskQueue.NewTask(id: UUID(), name: "noop", maxAttempts: 2)
            let safe = PostgresTaskQueue.NewTask(id: UUID(), name: "noop", retrySafe: true)
            try await queue.insert([once, twice, safe], on: connection)
            var outcome: [UUID: String] = [:]
            // Each round: claim what is pending with a lease that runs out, and rescue it.
            for _ in 0..<3 {
                let claims = try await queue.claim(slots: 10, names: ["noop"], lease: .milliseconds(1), on: connection)
                guard !claims.isEmpty else { break }
                var rescue = PostgresTaskQueue.Rescue()
                for _ in 0..<200 where rescue.retried.count + rescue.interrupted.count + rescue.quarantined.count < claims.count {
                    let more = try await queue.rescue(crashLimit: 3, on: connection)
                    rescue.retried += more.retried
                    rescue.interrupted += more.interrupted
                    rescue.quarantined += more.quarantined
                    try await Task.sleep(for: .milliseconds(5))
                }
                for id in rescue.interrupted { outcome[id] = "interrupted" }
                for id in rescue.quarantined { outcome[id] = "quarantined" }
            }
            #expect(outcome[once.id] == "interrupted")
            #expect(outcome[twice.id] == "interrupted")  // its second attempt died too
            #expect(outcome[safe.id] == "quarantined")  // three crashes, the limit
            #expect(try await Self.state(twice.id, connection).0 == "interrupted")
        }
    }

    @Test("a renewal extends the leases of the host's own running tasks, in one statement, and no one else's")
    func renew() async throws {
        try await Self.withHosts(2) { hosts in
            try await hosts[0].queue.insert(Self.tasks(5), on: hosts[0].connection)
            _ = try await hosts[0].queue.claim(slots: 3, names: ["noop"], lease: .seconds(1), on: hosts[0].connection)
            _ = try await hosts[1].queue.claim(slots: 2, names: ["noop"], lease: .seconds(1), on: hosts[1].connection)
            #expect(try await hosts[0].queue.renewLeases(.seconds(60), on: hosts[0].connection) == 3)
            let rows = try await hosts[0].connection.query(
                "SELECT host, bool_and(lease_expires_at > now() + interval '30 seconds') FROM pybgd_tasks GROUP BY host ORDER BY host",
                logger: Self.logger
            ).collect()
            #expect(try rows.map { try $0.decode((String, Bool).self) }.map { "\($0.0) \($0.1)" } == ["host-1 true", "host-2 false"])
        }
    }
}

@Suite("Hosts sharing unique keys, schedules and wake-ups")
struct PostgresSharedTests {
    static let logger = Logger(label: "test")

    @Test("of three hosts submitting one unique key at once, exactly one inserts; the others get its id; once it ended the key is free")
    func uniqueKeys() async throws {
        try await PostgresTaskQueueTests.withHosts(3) { hosts in
            let outcomes = try await withThrowingTaskGroup(of: (UUID, PostgresTaskQueue.UniqueInsert).self) { group in
                for host in hosts {
                    group.addTask {
                        let task = PostgresTaskQueue.NewTask(id: UUID(), name: "noop", uniqueKey: "report-2026-11-28")
                        return (task.id, try await host.queue.insert(unique: task, on: host.connection))
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let winners = outcomes.filter { $0.1 == .inserted }
            #expect(winners.count == 1)
            let winner = try #require(winners.first).0
            #expect(outcomes.filter { $0.1 == .held(by: winner) }.count == 2)
            let (queue, connection) = hosts[0]
            let claim = try #require(try await queue.claim(slots: 1, names: ["noop"], lease: .seconds(30), on: connection).first)
            #expect(try await queue.recordEnd(claim, state: "finished", outcome: "{}", on: connection))
            let again = PostgresTaskQueue.NewTask(id: UUID(), name: "noop", uniqueKey: "report-2026-11-28")
            #expect(try await queue.insert(unique: again, on: connection) == .inserted)
        }
    }

    @Test("three hosts firing the same 30 ticks of a schedule at once: exactly one task per tick")
    func scheduleTicks() async throws {
        try await PostgresTaskQueueTests.withHosts(3) { hosts in
            let start = Date(timeIntervalSince1970: 1_795_824_000)
            let ticks = (0..<31).map { start.addingTimeInterval(Double($0) * 60) }
            for host in hosts {
                let stored = try await host.queue.register(
                    schedule: "every-minute", definition: #"{"cron":"* * * * *"}"#, firstTick: ticks[0], on: host.connection)
                #expect(stored == ticks[0])
            }
            let fired = try await withThrowingTaskGroup(of: Int.self) { group in
                for host in hosts {
                    group.addTask {
                        var count = 0
                        for index in 0..<30 {
                            let task = PostgresTaskQueue.NewTask(id: UUID(), name: "noop", record: #"{"tick":\#(index)}"#)
                            if try await host.queue.fire(
                                schedule: "every-minute", tick: ticks[index], next: ticks[index + 1], tasks: [task], on: host.connection)
                            {
                                count += 1
                            }
                        }
                        return count
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(fired.reduce(0, +) == 30)
            let perTick = try await hosts[0].connection.query(
                "SELECT record->>'tick', count(*) FROM pybgd_tasks GROUP BY 1 HAVING count(*) <> 1", logger: Self.logger
            ).collect()
            #expect(perTick.isEmpty)
            let total = try await hosts[0].connection.query("SELECT count(*) FROM pybgd_tasks", logger: Self.logger).collect()
            #expect(try total[0].decode(Int.self) == 30)
        }
    }

    @Test("an idle host listening is woken by another host's insert, at its commit")
    func wake() async throws {
        try await PostgresTaskQueueTests.withHosts(2) { hosts in
            let notifications = try await hosts[1].connection.listen(PostgresTaskQueue.wakeChannel)
            try await hosts[0].queue.insert(PostgresTaskQueueTests.tasks(3), on: hosts[0].connection)
            let woken = try await withThrowingTaskGroup(of: String?.self) { group in
                group.addTask {
                    for try await notification in notifications { return notification.payload }
                    return nil
                }
                group.addTask {
                    try await Task.sleep(for: .seconds(10))
                    return nil
                }
                let first = try await group.next() ?? nil
                group.cancelAll()
                return first
            }
            #expect(woken == "3")
        }
    }
}

@Suite("Hosts' batched ends and heartbeats")
struct PostgresEndsTests {
    static let logger = Logger(label: "test")

    @Test("a batch of ends applies in one statement to the runs it fences, and to no stale one")
    func batchedEnds() async throws {
        try await PostgresTaskQueueTests.withHosts(2) { hosts in
            let (queue, connection) = hosts[0]
            try await queue.insert(PostgresTaskQueueTests.tasks(50), on: connection)
            let claims = try await queue.claim(slots: 50, names: ["noop"], lease: .seconds(30), on: connection)
            #expect(claims.count == 50)
            var stale = claims[0]
            stale.fence -= 1
            let ends =
                [PostgresTaskQueue.End(stale, state: "failed", outcome: "{}")]
                + claims.dropFirst().map { PostgresTaskQueue.End($0, state: "finished", outcome: #"{"result":1}"#) }
            let applied = try await queue.recordEnds(ends, on: connection)
            #expect(applied == Set(claims.dropFirst().map(\.id)))
            #expect(try await PostgresTaskQueueTests.state(claims[0].id, connection).0 == "running")
            // Written once: the same ends again apply to nothing.
            #expect(try await queue.recordEnds(ends, on: connection).isEmpty)
        }
    }

    @Test("heartbeats show each host's workers and running count, the most recently heard first")
    func heartbeats() async throws {
        try await PostgresTaskQueueTests.withHosts(2) { hosts in
            try await hosts[0].queue.heartbeat(workers: 4, running: 1, version: "0.9", on: hosts[0].connection)
            try await hosts[1].queue.heartbeat(workers: 2, running: 0, version: "0.9", on: hosts[1].connection)
            try await hosts[0].queue.heartbeat(workers: 4, running: 3, version: "0.9", on: hosts[0].connection)
            let seen = try await hosts[1].queue.hosts(on: hosts[1].connection)
            #expect(seen.map(\.name) == ["host-1", "host-2"])
            #expect(seen.map(\.running) == [3, 0] && seen.map(\.workers) == [4, 2])
            #expect(seen.allSatisfy { $0.silentFor < .seconds(5) })
        }
    }
}
