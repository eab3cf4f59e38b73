import Foundation
import Logging
import PostgresNIO
import PyBackgroundTesting
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

    /// The lines of an EXPLAIN, as one text.
    static func plan(_ explain: PostgresQuery, _ connection: PostgresConnection) async throws -> String {
        try await connection.query(explain, logger: logger).collect().map { try $0.decode(String.self) }.joined(separator: "\n")
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

    @Test(
        "a claim tells the seconds until the next task waiting for its time; a due task it could not take (paused queue) is not counted, so an idle host sleeps"
    )
    func secondsUntilDue() async throws {
        try await Self.withHosts(1) { hosts in
            let (queue, connection) = hosts[0]
            try await connection.query("INSERT INTO pybgd_queues (name, paused) VALUES ('held', true)", logger: Self.logger)
            try await queue.insert([PostgresTaskQueue.NewTask(id: UUID(), name: "noop", queue: "held")], on: connection)
            let blocked = try await queue.claimUnlimited(slots: 5, names: ["noop"], lease: .seconds(30), on: connection)
            #expect(blocked.claims.isEmpty)
            #expect(blocked.secondsUntilDue == nil, "the paused queue's pending task is not due for this host")
            let later = PostgresTaskQueue.NewTask(id: UUID(), name: "noop", runAt: Date().addingTimeInterval(60))
            let elsewhere = PostgresTaskQueue.NewTask(id: UUID(), name: "unknown-here", runAt: Date().addingTimeInterval(5))
            try await queue.insert([later, elsewhere], on: connection)
            let waiting = try await queue.claimUnlimited(slots: 5, names: ["noop"], lease: .seconds(30), on: connection)
            #expect(waiting.claims.isEmpty)
            let seconds = try #require(waiting.secondsUntilDue)
            #expect(seconds > 55 && seconds <= 60, "\(seconds)")
        }
    }

    @Test("a host's connection takes the first tasks in index order from thousands pending, whatever the statistics say")
    func claimsInIndexOrder() async throws {
        try await Self.withHosts(1) { hosts in
            let (queue, connection) = hosts[0]
            try await queue.prepareHostConnection(connection)
            // Analysed while empty: the planner believes there are no pending rows.
            try await connection.query("ANALYZE pybgd_tasks", logger: Self.logger)
            let tasks = Self.tasks(3000)
            try await queue.insert(tasks, on: connection)
            let plan = try await Self.plan(
                """
                EXPLAIN SELECT id FROM pybgd_tasks
                WHERE state IN ('pending', 'scheduled', 'retrying') AND run_at <= now() AND name = ANY(ARRAY['noop'])
                ORDER BY priority DESC, run_at, sequence LIMIT 10 FOR UPDATE SKIP LOCKED
                """, connection)
            #expect(plan.contains("Index Scan using pybgd_tasks_claimable"), "\(plan)")
            #expect(!plan.contains("Sort"), "\(plan)")
            let claims = try await queue.claim(slots: 10, names: ["noop"], lease: .seconds(30), on: connection)
            #expect(claims.map(\.id) == tasks.prefix(10).map(\.id))
        }
    }

    @Test("on a host's connection, a batch of ends finds its runs by primary key, not by reading every row or every running row")
    func endsByPrimaryKey() async throws {
        try await Self.withHosts(1) { hosts in
            let (queue, connection) = hosts[0]
            try await queue.prepareHostConnection(connection)
            try await connection.query("ANALYZE pybgd_tasks", logger: Self.logger)
            try await queue.insert(Self.tasks(3000), on: connection)
            let claims = try await queue.claim(slots: 3000, names: ["noop"], lease: .seconds(30), on: connection)
            let batch = Array(claims.prefix(50))
            // The shape of recordEnds' statement: by id and fence, and only while it runs.
            let plan = try await Self.plan(
                """
                EXPLAIN UPDATE pybgd_tasks AS t SET state = 'finished', ended_at = now(), lease_expires_at = NULL
                FROM unnest(\(batch.map(\.id))::uuid[], \(batch.map(\.fence))::bigint[]) AS e(id, fence)
                WHERE t.id = e.id AND t.fence = e.fence AND t.state = 'running'
                """, connection)
            #expect(plan.contains("pybgd_tasks_pkey") && !plan.contains("pybgd_tasks_leases"), "\(plan)")
            let ends = batch.map { PostgresTaskQueue.End($0, state: "finished", outcome: "{}") }
            #expect(try await queue.recordEnds(ends, on: connection) == Set(batch.map(\.id)))
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
            #expect(try await first.queue.renewLeases(.seconds(30), on: first.connection).isEmpty)
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
                // Each run starts (as pybgd records before a body runs), then its host dies.
                for claim in claims { _ = try await queue.recordStart(claim, on: connection) }
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

    @Test("a run that never started is pending again after a rescue or a release, its claim not counted as an attempt nor a crash")
    func unstartedRuns() async throws {
        try await Self.withHosts(2) { hosts in
            let (queue, connection) = hosts[0]
            let tasks = Self.tasks(4)
            try await queue.insert(tasks, on: connection)
            let claims = try await queue.claim(slots: 4, names: ["noop"], lease: .milliseconds(1), on: connection)
            #expect(claims.count == 4)
            // Two of them start; the host dies with all four held.
            for claim in claims.prefix(2) { #expect(try await queue.recordStart(claim, on: connection)) }
            var rescue = PostgresTaskQueue.Rescue()
            for _ in 0..<200 where rescue.retried.count + rescue.interrupted.count < 4 {
                let more = try await hosts[1].queue.rescue(crashLimit: 3, on: hosts[1].connection)
                rescue.retried += more.retried
                rescue.interrupted += more.interrupted
                try await Task.sleep(for: .milliseconds(5))
            }
            #expect(Set(rescue.interrupted) == Set(claims.prefix(2).map(\.id)))
            #expect(Set(rescue.retried) == Set(claims.suffix(2).map(\.id)))
            let rows = try await connection.query(
                "SELECT id, attempt, crashes FROM pybgd_tasks WHERE state = 'pending'", logger: Self.logger
            ).collect().map { try $0.decode((UUID, Int, Int).self) }
            #expect(rows.allSatisfy { $0.1 == 0 && $0.2 == 0 })
            // Claimed again by the other host, which gives them back unstarted at its shutdown.
            let again = try await hosts[1].queue.claim(slots: 4, names: ["noop"], lease: .seconds(30), on: hosts[1].connection)
            #expect(again.count == 2)
            #expect(try await hosts[1].queue.release(again, on: hosts[1].connection) == Set(again.map(\.id)))
            #expect(try await hosts[1].queue.release(again, on: hosts[1].connection).isEmpty, "fenced: once")
            #expect(try await Self.state(again[0].id, connection).0 == "pending")
        }
    }

    @Test("a host starting again rescues what its earlier life held at once, whatever the leases")
    func rescueOwn() async throws {
        try await Self.withHosts(2) { hosts in
            try await hosts[0].queue.insert(Self.tasks(3), on: hosts[0].connection)
            let held = try await hosts[0].queue.claim(slots: 3, names: ["noop"], lease: .seconds(600), on: hosts[0].connection)
            _ = try await hosts[1].queue.rescue(crashLimit: 3, on: hosts[1].connection)
            #expect(try await Self.state(held[0].id, hosts[0].connection).0 == "running", "a live lease is not rescued")
            let rescue = try await hosts[1].queue.rescue(crashLimit: 3, ownedBy: hosts[0].queue.host, on: hosts[1].connection)
            #expect(Set(rescue.retried) == Set(held.map(\.id)))
        }
    }

    @Test("a renewal extends the leases of the host's own running tasks, in one statement, and no one else's")
    func renew() async throws {
        try await Self.withHosts(2) { hosts in
            try await hosts[0].queue.insert(Self.tasks(5), on: hosts[0].connection)
            _ = try await hosts[0].queue.claim(slots: 3, names: ["noop"], lease: .seconds(1), on: hosts[0].connection)
            _ = try await hosts[1].queue.claim(slots: 2, names: ["noop"], lease: .seconds(1), on: hosts[1].connection)
            #expect(try await hosts[0].queue.renewLeases(.seconds(60), on: hosts[0].connection).count == 3)
            let rows = try await hosts[0].connection.query(
                "SELECT host, bool_and(lease_expires_at > now() + interval '30 seconds') FROM pybgd_tasks GROUP BY host ORDER BY host",
                logger: Self.logger
            ).collect()
            #expect(try rows.map { try $0.decode((String, Bool).self) }.map { "\($0.0) \($0.1)" } == ["host-1 true", "host-2 false"])
        }
    }

    @Test(
        "a stop from any host: a task no host holds is cancelled at once; the holder of a claimed one is asked; CANCEL leaves a started run; a stopped run whose host dies ends cancelled, not retried"
    )
    func stopRequests() async throws {
        try await Self.withHosts(2) { hosts in
            let (holder, asker) = (hosts[0], hosts[1])
            let tasks = Self.tasks(4)
            try await holder.queue.insert(tasks, on: holder.connection)
            let error = (code: "cancelled", message: "cancelled by a test")
            // Pending, no host: cancelled now, and freed for good.
            #expect(try await asker.queue.requestStop(tasks[3].id, .cancel, by: "t", error: error, on: asker.connection) == .cancelled)
            #expect(try await Self.state(tasks[3].id, asker.connection).0 == "cancelled")
            #expect(try await asker.queue.requestStop(tasks[3].id, .kill, by: "t", error: error, on: asker.connection) == .refused)
            let claims = try await holder.queue.claim(slots: 3, names: ["noop"], lease: .milliseconds(300), on: holder.connection)
            #expect(claims.count == 3)
            #expect(try await holder.queue.recordStart(claims[0], on: holder.connection))
            #expect(try await holder.queue.recordStart(claims[1], on: holder.connection))
            // Started: CANCEL is refused; KILL is asked of the holder, as is CANCEL of the unstarted one.
            #expect(try await asker.queue.requestStop(claims[0].id, .cancel, by: "t", error: error, on: asker.connection) == .refused)
            #expect(try await asker.queue.requestStop(claims[1].id, .kill, by: "uid 7", error: error, on: asker.connection) == .asked(host: "host-1"))
            #expect(try await asker.queue.requestStop(claims[2].id, .cancel, by: "uid 8", error: error, on: asker.connection) == .asked(host: "host-1"))
            let asked = try await holder.queue.stopRequests(on: holder.connection).sorted { $0.by < $1.by }
            #expect(asked.map(\.id) == [claims[1].id, claims[2].id] && asked.map(\.kind) == [.kill, .cancel] && asked.map(\.by) == ["uid 7", "uid 8"])
            #expect(try await asker.queue.stopRequests(on: asker.connection).isEmpty, "asked of the holder only")
            // The holder dies before it stops them: the rescue ends both cancelled and runs the other again.
            var rescue = PostgresTaskQueue.Rescue()
            for _ in 0..<200 where rescue.cancelled.count + rescue.retried.count + rescue.interrupted.count < 3 {
                let more = try await asker.queue.rescue(crashLimit: 3, on: asker.connection)
                rescue.cancelled += more.cancelled
                rescue.retried += more.retried
                rescue.interrupted += more.interrupted
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(Set(rescue.cancelled) == [claims[1].id, claims[2].id])
            #expect(rescue.interrupted == [claims[0].id])
            let killed = try await asker.connection.query(
                "SELECT outcome->'error'->>'code', outcome->'error'->>'message' FROM pybgd_tasks WHERE id = \(claims[1].id)", logger: Self.logger
            ).collect().first?.decode((String, String).self)
            #expect(killed?.0 == "killed" && killed?.1.contains("uid 7") == true && killed?.1.contains("host-1") == true, "\(String(describing: killed))")
        }
    }

    @Test(
        "an insert claims for its host, in the same statement, up to its idle workers' count of tasks due now; none while older work waits, of a paused or limited queue, or for later"
    )
    func insertAndClaim() async throws {
        try await Self.withHosts(2) { hosts in
            let (queue, connection) = hosts[0]
            let now = Self.tasks(3)
            let claims = try await queue.insert(now, claiming: 2, names: ["noop"], lease: .seconds(30), on: connection)
            #expect(claims.map(\.id) == Array(now.prefix(2)).map(\.id) && claims.allSatisfy { $0.fence == 1 && $0.attempt == 1 })
            #expect(try await Self.state(now[0].id, connection) == ("running", 1))
            #expect(try await Self.state(now[2].id, connection) == ("pending", 0))
            // Its start and end apply with the claim's fence, as after a claim.
            #expect(try await queue.recordStart(claims[0], on: connection))
            #expect(try await queue.recordEnd(claims[0], state: "finished", outcome: "{}", on: connection))
            // A due task waits (now[2]): the next insert claims nothing, so that it goes first.
            #expect(try await queue.insert(Self.tasks(1), claiming: 2, names: ["noop"], lease: .seconds(30), on: connection).isEmpty)
            _ = try await hosts[1].queue.claim(slots: 10, names: ["noop"], lease: .seconds(30), on: hosts[1].connection)
            // Nothing waits now; still none for later, of a paused or a limited queue, or of a task not registered here.
            try await connection.query(
                "INSERT INTO pybgd_queues (name, paused, max_running) VALUES ('held', true, NULL), ('io', false, 2)", logger: Self.logger)
            let refused = [
                PostgresTaskQueue.NewTask(id: UUID(), name: "noop", runAt: Date().addingTimeInterval(60)),
                PostgresTaskQueue.NewTask(id: UUID(), name: "noop", queue: "held"),
                PostgresTaskQueue.NewTask(id: UUID(), name: "noop", queue: "io"),
                PostgresTaskQueue.NewTask(id: UUID(), name: "elsewhere"),
            ]
            #expect(try await queue.insert(refused, claiming: 4, names: ["noop"], lease: .seconds(30), on: connection).isEmpty)
            // A backlog of any queue leaves claiming to the claim loop; once it is gone, an insert claims again.
            #expect(try await queue.insert(Self.tasks(1), claiming: 1, names: ["noop"], lease: .seconds(30), on: connection).isEmpty)
            try await connection.query("UPDATE pybgd_tasks SET state = 'cancelled' WHERE state = 'pending'", logger: Self.logger)
            let mine = PostgresTaskQueue.NewTask(id: UUID(), name: "noop")
            #expect(try await queue.insert([mine], claiming: 1, names: ["noop"], lease: .seconds(30), on: connection).map(\.id) == [mine.id])
        }
    }

    @Test(
        "dependencies across hosts: a task waits for its prerequisites (by id or prefix), is released when all finished, cancelled with its own dependents when one did not; an unknown or ambiguous prerequisite is refused"
    )
    func dependencies() async throws {
        try await Self.withHosts(2) { hosts in
            let (queue, connection) = hosts[0]
            let (a, b) = (PostgresTaskQueue.NewTask(id: UUID(), name: "noop"), PostgresTaskQueue.NewTask(id: UUID(), name: "noop"))
            try await queue.insert([a, b], on: connection)
            func hex(_ id: UUID) -> String { id.uuidString.lowercased().replacingOccurrences(of: "-", with: "") }
            let c = PostgresTaskQueue.NewTask(id: UUID(), name: "noop", after: [String(hex(a.id).prefix(12)), hex(b.id)])
            let d = PostgresTaskQueue.NewTask(id: UUID(), name: "noop", after: [hex(c.id)])
            #expect(try await hosts[1].queue.insert(dependent: c, on: hosts[1].connection) == .inserted(state: "waiting"))
            #expect(try await queue.insert(dependent: d, on: connection) == .inserted(state: "waiting"))
            await #expect(throws: PostgresTaskQueue.PrerequisiteError(prefix: "0000", matches: [])) {
                try await queue.insert(dependent: PostgresTaskQueue.NewTask(id: UUID(), name: "noop", after: ["0000"]), on: connection)
            }
            await #expect(throws: PostgresTaskQueue.PrerequisiteError.self) {
                try await queue.insert(dependent: PostgresTaskQueue.NewTask(id: UUID(), name: "noop", after: [""]), on: connection)
            }
            // Only the prerequisites are claimed; one finishing is not enough.
            let claims = try await queue.claim(slots: 10, names: ["noop"], lease: .seconds(30), on: connection)
            #expect(Set(claims.map(\.id)) == [a.id, b.id])
            let ends = claims.map { PostgresTaskQueue.End($0, state: "finished", outcome: "{}") }
            _ = try await queue.recordEndsAndSettle([ends.first { $0.claim.id == a.id }!], on: connection)
            #expect(try await Self.state(c.id, connection).0 == "waiting")
            _ = try await queue.recordEndsAndSettle([ends.first { $0.claim.id == b.id }!], on: connection)
            #expect(try await Self.state(c.id, connection).0 == "pending")
            // c fails: d, and e after d, are cancelled with dependency-failed; a later dependent at once.
            let e = PostgresTaskQueue.NewTask(id: UUID(), name: "noop", after: [hex(d.id)])
            #expect(try await queue.insert(dependent: e, on: connection) == .inserted(state: "waiting"))
            let claimC = try #require(try await hosts[1].queue.claim(slots: 10, names: ["noop"], lease: .seconds(30), on: hosts[1].connection).first)
            #expect(claimC.id == c.id)
            _ = try await hosts[1].queue.recordEndsAndSettle([PostgresTaskQueue.End(claimC, state: "failed", outcome: "{}")], on: hosts[1].connection)
            #expect(try await Self.state(d.id, connection).0 == "cancelled")
            #expect(try await Self.state(e.id, connection).0 == "cancelled")
            let message = try await connection.query(
                "SELECT outcome->'error'->>'code', outcome->'error'->>'message' FROM pybgd_tasks WHERE id = \(d.id)", logger: Self.logger
            ).collect().first?.decode((String, String).self)
            #expect(message?.0 == "dependency-failed" && message?.1.contains(hex(c.id)) == true && message?.1.contains("failed") == true)
            let late = PostgresTaskQueue.NewTask(id: UUID(), name: "noop", after: [hex(c.id)])
            #expect(try await queue.insert(dependent: late, on: connection) == .inserted(state: "cancelled"))
            // A prerequisite whose end was written without settling (its host died between the
            // two): the sweep releases its dependent.
            let f = PostgresTaskQueue.NewTask(id: UUID(), name: "other")
            try await queue.insert([f], on: connection)
            let g = PostgresTaskQueue.NewTask(id: UUID(), name: "noop", after: [hex(f.id)])
            #expect(try await queue.insert(dependent: g, on: connection) == .inserted(state: "waiting"))
            try await connection.query("UPDATE pybgd_tasks SET state = 'finished', ended_at = now() WHERE id = \(f.id)", logger: Self.logger)
            #expect(try await queue.settle(after: nil, on: connection) == PostgresTaskQueue.Settled(released: 1, cancelled: 0))
            #expect(try await Self.state(g.id, connection).0 == "pending")
        }
    }

    @Test("output pieces are written only with the run's fence; a longer piece wins at one position; a read gives the latest run's pieces from a position on")
    func outputFencing() async throws {
        try await Self.withHosts(2) { hosts in
            let (queue, connection) = hosts[0]
            let task = PostgresTaskQueue.NewTask(id: UUID(), name: "noop", retrySafe: true)
            try await queue.insert([task], on: connection)
            let stale = try #require(try await queue.claim(slots: 1, names: ["noop"], lease: .milliseconds(20), on: connection).first)
            func piece(_ claim: PostgresTaskQueue.Claim, _ position: Int64, _ text: String) -> PostgresTaskQueue.OutputPiece {
                PostgresTaskQueue.OutputPiece(id: claim.id, fence: claim.fence, stream: 1, position: position, data: Array(text.utf8))
            }
            #expect(try await queue.writeOutput([piece(stale, 0, "old ")], on: connection) == 1)
            try await Task.sleep(for: .milliseconds(50))
            #expect(try await hosts[1].queue.rescue(crashLimit: 3, on: hosts[1].connection).retried == [task.id])
            let fresh = try #require(try await hosts[1].queue.claim(slots: 1, names: ["noop"], lease: .seconds(30), on: hosts[1].connection).first)
            // The presumed-dead host's output is refused; the new run's is kept.
            #expect(try await queue.writeOutput([piece(stale, 4, "stale")], on: connection) == 0)
            #expect(try await hosts[1].queue.writeOutput([piece(fresh, 0, "new")], on: hosts[1].connection) == 1)
            #expect(try await hosts[1].queue.writeOutput([piece(fresh, 0, "new li"), piece(fresh, 6, "ne")], on: hosts[1].connection) == 2)
            #expect(
                try await hosts[1].queue.writeOutput([piece(fresh, 0, "ne")], on: hosts[1].connection) == 0, "a shorter piece does not replace a longer one")
            let (run, pieces) = try await queue.output(of: task.id, from: [:], on: connection)
            #expect(run == fresh.fence)
            #expect(pieces.map { String(decoding: $0.data, as: UTF8.self) } == ["new li", "ne"])
            #expect(try await queue.output(of: task.id, from: [1: 6], on: connection).pieces.map(\.position) == [6])
            try await hosts[1].queue.dropOutput(task.id, fence: fresh.fence, stream: 1, between: 0, and: 6, on: hosts[1].connection)
            #expect(try await queue.output(of: task.id, from: [:], on: connection).pieces.map(\.position) == [6])
        }
    }
}
