import Logging
import PostgresNIO

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The statements by which hosts share the task table: insert, claim, renew, start, end and
/// rescue, every time the database's own (`now()`), never a host's clock.
///
/// A claim hands a task to one host with a lease and a new fence (a token that grows with each
/// claim). Every later write of that run (its start, its end) names the fence and applies only
/// while the row still has it: a host that was presumed dead, whose task was rescued and claimed
/// again, can never overwrite the new run. Each write returns whether it applied.
public struct PostgresTaskQueue: Sendable {
    /// The host this process is (`state.host_name`).
    public let host: String
    public let logger: Logger

    public init(host: String, logger: Logger) {
        self.host = host
        self.logger = logger
    }

    /// A task as submitted: its record stays opaque JSON here (the daemon's row format).
    public struct NewTask: Sendable {
        public var id: UUID
        public var name: String
        public var record: String
        public var queue: String
        public var priority: Int
        /// Nil: due now.
        public var runAt: Date?
        public var uniqueKey: String?
        public var maxAttempts: Int
        public var retrySafe: Bool
        /// Its prerequisites: ids (32 hex digits) or unique prefixes of them
        /// (``insert(dependent:on:)``).
        public var after: [String]

        public init(
            id: UUID, name: String, record: String = "{}", queue: String = "default", priority: Int = 0, runAt: Date? = nil,
            uniqueKey: String? = nil, maxAttempts: Int = 1, retrySafe: Bool = false, after: [String] = []
        ) {
            self.after = after
            self.id = id
            self.name = name
            self.record = record
            self.queue = queue
            self.priority = priority
            self.runAt = runAt
            self.uniqueKey = uniqueKey
            self.maxAttempts = maxAttempts
            self.retrySafe = retrySafe
        }
    }

    /// A task this host claimed: run it, and name `fence` in every write about this run.
    public struct Claim: Sendable, Equatable {
        public var id: UUID
        public var fence: Int64
        public var attempt: Int
        /// The registered task's name.
        public var name: String
        public var record: String

        public init(id: UUID, fence: Int64, attempt: Int, name: String, record: String) {
            self.id = id
            self.fence = fence
            self.attempt = attempt
            self.name = name
            self.record = record
        }
    }

    /// What a rescue did with the tasks whose lease ran out.
    public struct Rescue: Sendable, Equatable {
        /// Pending again, for another attempt (retry-safe, or attempts left).
        public var retried: [UUID] = []
        /// Ended `interrupted`: not retry-safe and no attempt left.
        public var interrupted: [UUID] = []
        /// Ended `quarantined`: their hosts died with them `crashLimit` times.
        public var quarantined: [UUID] = []
        /// Ended `cancelled`: a stop was asked of their host, which died before it ended them.
        public var cancelled: [UUID] = []

        public init(retried: [UUID] = [], interrupted: [UUID] = [], quarantined: [UUID] = [], cancelled: [UUID] = []) {
            self.retried = retried
            self.interrupted = interrupted
            self.quarantined = quarantined
            self.cancelled = cancelled
        }

        /// Nothing was taken back.
        public var isEmpty: Bool { retried.isEmpty && interrupted.isEmpty && quarantined.isEmpty && cancelled.isEmpty }
    }

    /// The channel each host LISTENs on for stop requests (CANCEL or KILL on another host of a
    /// task it holds); the payload is the holder's name.
    public static let stopChannel = "pybgd_stop"

    /// The channel idle hosts LISTEN on: an insert notifies it (at commit), so that a host with
    /// free workers claims at once instead of at its next poll.
    public static let wakeChannel = "pybgd_tasks"

    /// Inserts tasks, pending (or scheduled, with a later `runAt`), in one statement, and wakes
    /// the idle hosts. A task whose unique key a live task holds makes the whole statement fail
    /// (`insert(unique:)` is the one-task way that answers with the holder).
    public func insert(_ tasks: [NewTask], on connection: PostgresConnection) async throws {
        _ = try await insertRows(tasks, skippingHeldKeys: false, on: connection)
    }

    /// Inserts tasks as ``insert(_:on:)`` does, and claims for this host, in the same statement,
    /// up to `claiming` of them that are due now, of a queue neither paused nor limited, while no
    /// due task of `names` waits: a host with idle workers runs what it was just given without a
    /// claim's round trip (an idle queue's latency), and never ahead of older work.
    /// Returns the claims.
    ///
    /// `skipping`: queues this host knows to be paused or limited, whose tasks it does not offer
    /// (then, with none offered, the plain insert's cheaper statement is used).
    public func insert(
        _ tasks: [NewTask], claiming: Int, names: [String], lease: Duration, skipping: Set<String> = [], on connection: PostgresConnection
    ) async throws -> [Claim] {
        var left = claiming
        let claimable = tasks.map { task -> Bool in
            guard left > 0, task.runAt == nil, task.uniqueKey == nil, !skipping.contains(task.queue), names.contains(task.name) else {
                return false
            }
            left -= 1
            return true
        }
        guard claimable.contains(true) else {
            _ = try await insertRows(tasks, skippingHeldKeys: false, on: connection)
            return []
        }
        let claimed = try await insertClaiming(tasks, claimable: claimable, names: names, lease: Self.milliseconds(lease), on: connection)
        return tasks.filter { claimed.contains($0.id) }.map { Claim(id: $0.id, fence: 1, attempt: 1, name: $0.name, record: $0.record) }
    }

    /// What inserting a task with a unique key did.
    public enum UniqueInsert: Sendable, Equatable {
        case inserted
        /// A live task holds the key; `state` as a client sees it (scheduled, pending, running,
        /// retrying).
        case held(by: UUID, state: String)
    }

    /// Inserts one task whose `uniqueKey` is set, unless a live task holds the key: the partial
    /// unique index decides, so that of hosts racing with one key exactly one inserts.
    public func insert(unique task: NewTask, on connection: PostgresConnection) async throws -> UniqueInsert {
        precondition(task.uniqueKey?.isEmpty == false, "insert(unique:) is for a task with a unique key")
        while true {
            if try await insertRows([task], skippingHeldKeys: true, on: connection) == 1 { return .inserted }
            // The holder may have ended between the two statements: then try again.
            if let holder = try await holder(ofKey: task.uniqueKey, on: connection) { return .held(by: holder.id, state: holder.state) }
        }
    }

    /// The live task that holds a unique key, with its state as a client sees it; nil: none.
    private func holder(ofKey key: String?, on connection: PostgresConnection) async throws -> (id: UUID, state: String)? {
        try await connection.query(
            "SELECT id, \(unescaped: Self.shownState) FROM pybgd_tasks WHERE unique_key = \(key) AND state IN \(unescaped: Self.liveStates)",
            logger: logger
        ).collect().first?.decode((UUID, String).self)
    }

    /// A row's state as clients see it: a claimed run whose start is not recorded waits for a
    /// worker of its host (`pending`) or between attempts (`retrying`); a retry-safe task's start
    /// is never recorded, so it is `running` from its claim. Every ``Row`` is read with it.
    private static let shownState =
        "CASE WHEN state = 'running' AND started_at IS NULL AND NOT retry_safe THEN CASE WHEN attempt > 1 THEN 'retrying' ELSE 'pending' END ELSE state END"

    /// The states in which a task holds its unique key (the partial unique index's).
    private static let liveStates = "('scheduled', 'waiting', 'pending', 'running', 'retrying')"

    /// Inserts in one statement and notifies the idle hosts if any row went in; returns how many
    /// did. `skippingHeldKeys`: a task whose unique key a live task holds is left out instead of
    /// failing the statement.
    private func insertRows(_ tasks: [NewTask], skippingHeldKeys: Bool, on connection: PostgresConnection) async throws -> Int {
        guard !tasks.isEmpty else { return 0 }
        let onConflict =
            skippingHeldKeys ? "ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state IN \(Self.liveStates) DO NOTHING" : ""
        let rows = try await connection.query(
            """
            WITH inserted AS (
            INSERT INTO pybgd_tasks (id, name, record, queue, priority, state, run_at, submitted_on, unique_key, max_attempts, retry_safe)
            SELECT id, name, record::jsonb, queue, priority,
                   CASE WHEN due <= now() THEN 'pending' ELSE 'scheduled' END,
                   greatest(due, now()), \(host), nullif(unique_key, ''), max_attempts, retry_safe
            FROM unnest(\(tasks.map(\.id))::uuid[], \(tasks.map(\.name))::text[], \(tasks.map(\.record))::text[],
                        \(tasks.map(\.queue))::text[], \(tasks.map(\.priority))::integer[],
                        \(tasks.map { $0.runAt?.timeIntervalSince1970 ?? 0 })::double precision[],
                        \(tasks.map { $0.uniqueKey ?? "" })::text[], \(tasks.map(\.maxAttempts))::integer[],
                        \(tasks.map(\.retrySafe))::boolean[])
                 AS t(id, name, record, queue, priority, run_at_epoch, unique_key, max_attempts, retry_safe)
                 -- 0 stands for "now": an array of optionals cannot be bound.
                 CROSS JOIN LATERAL (SELECT CASE WHEN run_at_epoch = 0 THEN now() ELSE to_timestamp(run_at_epoch) END AS due) AS d
            \(unescaped: onConflict)
            RETURNING 1
            )
            SELECT count(*), CASE WHEN count(*) > 0 THEN pg_notify(\(Self.wakeChannel), count(*)::text) END IS NULL FROM inserted
            """, logger: logger
        ).collect()
        guard let row = rows.first else { return 0 }
        return try row.decode((Int, Bool).self).0
    }

    /// Inserts in one statement, as ``insertRows(_:skippingHeldKeys:on:)`` does, claiming for
    /// this host the `claimable` rows that pass the statement's checks (see
    /// ``insert(_:claiming:names:lease:on:)``); notifies the idle hosts if a row went in
    /// unclaimed. A statement of its own: its checks cost every insert their planning.
    private func insertClaiming(
        _ tasks: [NewTask], claimable: [Bool], names: [String], lease leaseMilliseconds: Int64, on connection: PostgresConnection
    ) async throws -> Set<UUID> {
        var claimed: Set<UUID> = []
        for try await (mine, _) in try await connection.query(
            """
            WITH inserted AS (
            INSERT INTO pybgd_tasks (id, name, record, queue, priority, state, run_at, submitted_on, unique_key, max_attempts, retry_safe,
                                     host, fence, attempt, lease_expires_at)
            SELECT id, name, record::jsonb, queue, priority,
                   CASE WHEN c.mine THEN 'running' WHEN due <= now() THEN 'pending' ELSE 'scheduled' END,
                   greatest(due, now()), \(host), nullif(unique_key, ''), max_attempts, retry_safe,
                   CASE WHEN c.mine THEN \(host) END, CASE WHEN c.mine THEN 1 ELSE 0 END, CASE WHEN c.mine THEN 1 ELSE 0 END,
                   CASE WHEN c.mine THEN now() + \(leaseMilliseconds) * interval '1 millisecond' END
            FROM unnest(\(tasks.map(\.id))::uuid[], \(tasks.map(\.name))::text[], \(tasks.map(\.record))::text[],
                        \(tasks.map(\.queue))::text[], \(tasks.map(\.priority))::integer[],
                        \(tasks.map { $0.runAt?.timeIntervalSince1970 ?? 0 })::double precision[],
                        \(tasks.map { $0.uniqueKey ?? "" })::text[], \(tasks.map(\.maxAttempts))::integer[],
                        \(tasks.map(\.retrySafe))::boolean[], \(claimable)::boolean[])
                 AS t(id, name, record, queue, priority, run_at_epoch, unique_key, max_attempts, retry_safe, claimable)
                 -- 0 stands for "now": an array of optionals cannot be bound.
                 CROSS JOIN LATERAL (SELECT CASE WHEN run_at_epoch = 0 THEN now() ELSE to_timestamp(run_at_epoch) END AS due) AS d
                 -- Claimed here only if due now and its queue is neither paused nor limited, while
                 -- no due task of this host's names waits, whatever its queue (those go first; a
                 -- backlog, paused or not, leaves claiming to the claim loop). Checked only for
                 -- the rows offered, the waiting tasks once per statement (an uncorrelated
                 -- subquery, stopping at the first it finds).
                 CROSS JOIN LATERAL (SELECT CASE WHEN t.claimable AND run_at_epoch = 0
                     THEN CASE WHEN t.queue NOT IN (SELECT name FROM pybgd_queues WHERE paused OR max_running IS NOT NULL)
                          THEN NOT EXISTS (SELECT 1 FROM pybgd_tasks AS p
                                           WHERE p.state IN ('pending', 'scheduled', 'retrying') AND p.run_at <= now()
                                             AND p.name = ANY(\(names)))
                          ELSE false END
                     ELSE false END AS mine) AS c
            RETURNING id, state = 'running' AS mine
            )
            SELECT coalesce(array_agg(id) FILTER (WHERE mine), '{}'),
                   CASE WHEN bool_or(NOT mine) THEN pg_notify(\(Self.wakeChannel), count(*)::text) END IS NULL
            FROM inserted
            """, logger: logger
        ).decode(([UUID], Bool).self) {
            claimed = Set(mine)
        }
        return claimed
    }

    // MARK: - Dependencies

    /// A prerequisite named by a submission that matches no task, or more than one.
    public struct PrerequisiteError: Error, Sendable, Equatable {
        /// As the submission named it.
        public var prefix: String
        /// The tasks it matches (none, or the first two).
        public var matches: [UUID]
    }

    /// What inserting a task with prerequisites did.
    public enum DependentInsert: Sendable, Equatable {
        /// Inserted: `waiting` for its prerequisites, `pending` or `scheduled` (they all finished
        /// already), or `cancelled` (one had ended otherwise: it never runs).
        case inserted(state: String)
        /// A live task holds its unique key: nothing was inserted.
        case held(by: UUID, state: String)
    }

    /// The states in which a prerequisite keeps its dependents from ever running.
    private static let failedStates = ["failed", "cancelled", "interrupted", "quarantined"]

    /// Inserts a task that runs after others (`task.after`, resolved here: a prefix must match
    /// exactly one task), in one transaction: `waiting` with a row per prerequisite while one has
    /// not finished, `cancelled` with `dependency-failed` if one ended otherwise, else due as any
    /// task. The prerequisites' rows are locked (`FOR SHARE`) until it commits, so that an end
    /// written meanwhile waits and its ``settle(after:on:)`` sees this task. Throws
    /// ``PrerequisiteError`` (and inserts nothing) for a prefix that matches none or several.
    public func insert(dependent task: NewTask, on connection: PostgresConnection) async throws -> DependentInsert {
        while true {
            do {
                return try await insertDependent(task, on: connection)
            } catch let error as PostgresTransactionError {
                if let refused = error.closureError as? PrerequisiteError { throw refused }
                // The unique key's holder ended between the two statements: try again.
                if error.closureError is HolderEnded { continue }
                throw error
            }
        }
    }

    /// A unique key's holder ended between the insert that met it and the read of it.
    private struct HolderEnded: Error {}

    private func insertDependent(_ task: NewTask, on connection: PostgresConnection) async throws -> DependentInsert {
        try await connection.withTransaction(logger: logger) { connection in
            var prerequisites: [(id: UUID, state: String)] = []
            for prefix in task.after {
                let exact = prefix.count == 32 ? UUID(uuidString: Self.dashed(prefix)) : nil
                let rows = try await connection.query(
                    """
                    SELECT id, state FROM pybgd_tasks
                    WHERE CASE WHEN \(exact)::uuid IS NULL THEN replace(id::text, '-', '') LIKE \(prefix.lowercased() + "%") ELSE id = \(exact) END
                    ORDER BY sequence LIMIT 2 FOR SHARE
                    """, logger: logger
                ).collect().map { try $0.decode((UUID, String).self) }
                guard rows.count == 1 else { throw PrerequisiteError(prefix: prefix, matches: rows.map(\.0)) }
                if !prerequisites.contains(where: { $0.id == rows[0].0 }) { prerequisites.append((rows[0].0, rows[0].1)) }
            }
            let failed = prerequisites.first { Self.failedStates.contains($0.state) }
            let mode = failed != nil ? "cancelled" : prerequisites.contains { $0.state != "finished" } ? "waiting" : "ready"
            let message = failed.map { "not run: task \(Self.hex($0.id)) ended \($0.state) (it was to run after it)" } ?? ""
            let inserted = try await connection.query(
                """
                INSERT INTO pybgd_tasks (id, name, record, queue, priority, state, run_at, submitted_on, unique_key, max_attempts, retry_safe,
                                         ended_at, outcome)
                SELECT \(task.id), \(task.name), \(task.record)::jsonb, \(task.queue), \(task.priority),
                       CASE WHEN \(mode) = 'ready' THEN CASE WHEN due <= now() THEN 'pending' ELSE 'scheduled' END ELSE \(mode) END,
                       greatest(due, now()), \(host), \(task.uniqueKey), \(task.maxAttempts), \(task.retrySafe),
                       CASE WHEN \(mode) = 'cancelled' THEN now() END,
                       CASE WHEN \(mode) = 'cancelled' THEN jsonb_build_object('result', NULL, 'error',
                           jsonb_build_object('code', 'dependency-failed', 'message', \(message)::text)) END
                FROM (SELECT coalesce(\(task.runAt), now()) AS due) AS d
                ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state IN \(unescaped: Self.liveStates) DO NOTHING
                RETURNING state
                """, logger: logger
            ).collect()
            guard let state = try inserted.first?.decode(String.self) else {
                guard let holder = try await holder(ofKey: task.uniqueKey, on: connection) else { throw HolderEnded() }
                return .held(by: holder.id, state: holder.state)
            }
            if state == "waiting" {
                try await connection.query(
                    "INSERT INTO pybgd_dependencies (task, after) SELECT \(task.id), unnest(\(prerequisites.map(\.id))::uuid[])", logger: logger)
            } else if state == "pending" {
                try await connection.query("SELECT pg_notify(\(Self.wakeChannel), '1')", logger: logger)
            }
            return .inserted(state: state)
        }
    }

    /// What ``settle(after:on:)`` did.
    public struct Settled: Sendable, Equatable {
        /// Waiting tasks whose prerequisites have all finished: due now (or at their time).
        public var released: Int
        /// Waiting tasks of which a prerequisite (or its own prerequisite, and so on) ended
        /// otherwise: `cancelled` with `dependency-failed`, never run.
        public var cancelled: Int
    }

    /// Moves on the waiting tasks that depend on `ids` (nil: every waiting task, a sweep that
    /// makes up for a host that died between an end and its settling): released once all their
    /// prerequisites finished, cancelled with `dependency-failed` (and their own dependents with
    /// them) once one ended otherwise. Wakes the idle hosts if it released any.
    @discardableResult
    public func settle(after ids: [UUID]?, on connection: PostgresConnection) async throws -> Settled {
        let rows = try await connection.query(
            """
            WITH RECURSIVE doomed AS (
                SELECT d.task, d.after AS cause, p.state AS cause_state
                FROM pybgd_dependencies AS d JOIN pybgd_tasks AS p ON p.id = d.after
                WHERE p.state = ANY(\(Self.failedStates))
                  AND (\(ids == nil) OR d.after = ANY(\(ids ?? [])))
                  AND d.task IN (SELECT id FROM pybgd_tasks WHERE state = 'waiting')
              UNION
                SELECT d.task, x.task, 'cancelled' FROM pybgd_dependencies AS d JOIN doomed AS x ON d.after = x.task
            ), cancelled AS (
                UPDATE pybgd_tasks AS t SET state = 'cancelled', ended_at = now(),
                    outcome = jsonb_build_object('result', NULL, 'error', jsonb_build_object('code', 'dependency-failed',
                        'message', format('not run: task %s ended %s (it was to run after it)', replace(x.cause::text, '-', ''), x.cause_state)))
                FROM (SELECT DISTINCT ON (task) task, cause, cause_state FROM doomed ORDER BY task) AS x
                WHERE t.id = x.task AND t.state = 'waiting'
                RETURNING t.id
            ), released AS (
                UPDATE pybgd_tasks AS t SET state = CASE WHEN t.run_at <= now() THEN 'pending' ELSE 'scheduled' END
                WHERE t.state = 'waiting'
                  AND (\(ids == nil) OR t.id IN (SELECT task FROM pybgd_dependencies WHERE after = ANY(\(ids ?? []))))
                  AND NOT EXISTS (SELECT 1 FROM pybgd_dependencies AS d JOIN pybgd_tasks AS p ON p.id = d.after
                                  WHERE d.task = t.id AND p.state <> 'finished')
                RETURNING t.id
            )
            SELECT (SELECT count(*) FROM cancelled), (SELECT count(*) FROM released),
                   CASE WHEN (SELECT count(*) FROM released) > 0 THEN pg_notify(\(Self.wakeChannel), '') END IS NULL
            """, logger: logger
        ).collect()
        guard let row = rows.first else { return Settled(released: 0, cancelled: 0) }
        let (cancelled, released, _) = try row.decode((Int, Int, Bool).self)
        return Settled(released: released, cancelled: cancelled)
    }

    /// An id as clients write it: 32 hex digits.
    private static func hex(_ id: UUID) -> String {
        id.uuidString.lowercased().replacingOccurrences(of: "-", with: "")
    }

    /// A schedule added at run time, as every host follows it.
    public struct RuntimeSchedule: Sendable, Equatable {
        public var name: String
        /// The words after the name in `SCHEDULE ADD`, as JSON.
        public var definition: String
        public var paused: Bool
        public var createdAt: Date
        /// The latest tick fired through (by any host); nil: none yet.
        public var through: Date?

        public init(name: String, definition: String, paused: Bool, createdAt: Date, through: Date?) {
            self.name = name
            self.definition = definition
            self.paused = paused
            self.createdAt = createdAt
            self.through = through
        }
    }

    /// Adds a schedule for the whole cluster; false when a schedule of that name exists already
    /// (added on another host, or fired by a host's config).
    public func addSchedule(_ schedule: RuntimeSchedule, on connection: PostgresConnection) async throws -> Bool {
        try await applied(
            connection.query(
                """
                INSERT INTO pybgd_schedules (name, definition, origin, paused, created_at, next_tick)
                VALUES (\(schedule.name), \(schedule.definition)::jsonb, 'runtime', \(schedule.paused), \(schedule.createdAt), \(schedule.through))
                ON CONFLICT (name) DO NOTHING
                RETURNING 1
                """, logger: logger))
    }

    /// Pauses or resumes a schedule added at run time, for every host; a resumed one goes on from
    /// `resumedAt` (the ticks it missed while paused are let pass).
    public func pauseSchedule(_ name: String, paused: Bool, resumedAt: Date?, on connection: PostgresConnection) async throws {
        try await connection.query(
            """
            UPDATE pybgd_schedules
            SET paused = \(paused), updated_at = now(),
                next_tick = CASE WHEN \(resumedAt)::timestamptz IS NULL THEN next_tick ELSE greatest(next_tick, \(resumedAt)) END
            WHERE name = \(name) AND origin = 'runtime'
            """, logger: logger)
    }

    /// Removes a schedule added at run time, for every host.
    public func removeSchedule(_ name: String, on connection: PostgresConnection) async throws {
        try await connection.query("DELETE FROM pybgd_schedules WHERE name = \(name) AND origin = 'runtime'", logger: logger)
    }

    /// The schedules added at run time, by name.
    public func runtimeSchedules(on connection: PostgresConnection) async throws -> [RuntimeSchedule] {
        var schedules: [RuntimeSchedule] = []
        for try await (name, definition, paused, createdAt, through) in try await connection.query(
            "SELECT name, definition::text, paused, created_at, next_tick FROM pybgd_schedules WHERE origin = 'runtime' ORDER BY name",
            logger: logger
        ).decode((String, String, Bool, Date, Date?).self) {
            schedules.append(RuntimeSchedule(name: name, definition: definition, paused: paused, createdAt: createdAt, through: through))
        }
        return schedules
    }

    /// The latest tick each schedule was fired through (``fire(schedule:through:tasks:on:)``).
    public func scheduleProgress(on connection: PostgresConnection) async throws -> [String: Date] {
        var progress: [String: Date] = [:]
        for try await (name, through) in try await connection.query(
            "SELECT name, next_tick FROM pybgd_schedules WHERE next_tick IS NOT NULL", logger: logger
        ).decode((String, Date).self) {
            progress[name] = through
        }
        return progress
    }

    /// Stores a schedule's definition and first tick unless a host stored it already (then its
    /// stored next tick stands); returns the next tick stored.
    public func register(schedule name: String, definition: String, firstTick: Date, on connection: PostgresConnection) async throws -> Date? {
        try await connection.query(
            """
            INSERT INTO pybgd_schedules (name, definition, next_tick) VALUES (\(name), \(definition)::jsonb, \(firstTick))
            ON CONFLICT (name) DO NOTHING
            """, logger: logger)
        return try await connection.query("SELECT next_tick FROM pybgd_schedules WHERE name = \(name)", logger: logger)
            .collect().first?.decode(Date?.self)
    }

    /// Fires a schedule's `tick`: its tasks are inserted and its next tick becomes `next`, in one
    /// transaction, only if the stored next tick is still `tick` (compare and swap). Of hosts
    /// firing the same tick, exactly one inserts; the others get false and insert nothing. No
    /// leader is needed, and a host that dies between the two writes leaves neither.
    public func fire(schedule name: String, tick: Date, next: Date?, tasks: [NewTask], on connection: PostgresConnection) async throws -> Bool {
        try await connection.withTransaction(logger: logger) { connection in
            let swapped =
                try await connection.query(
                    """
                    UPDATE pybgd_schedules SET next_tick = \(next), updated_at = now()
                    WHERE name = \(name) AND next_tick = \(tick)
                    RETURNING 1
                    """, logger: logger
                ).collect().count == 1
            guard swapped else { return false }
            try await insert(tasks, on: connection)
            return true
        }
    }

    /// Fires a schedule through `through` (its latest tick consumed): its tasks are inserted and
    /// its stored progress moves to `through`, in one transaction, only if no host has fired it
    /// that far yet. Of hosts firing the same ticks of one schedule, each tick's tasks are
    /// inserted once; returns whether this call inserted.
    public func fire(schedule name: String, through: Date, tasks: [NewTask], on connection: PostgresConnection) async throws -> Bool {
        try await connection.withTransaction(logger: logger) { connection in
            try await connection.query(
                "INSERT INTO pybgd_schedules (name, definition) VALUES (\(name), '{}'::jsonb) ON CONFLICT (name) DO NOTHING", logger: logger)
            let advanced =
                try await connection.query(
                    """
                    UPDATE pybgd_schedules SET next_tick = \(through), updated_at = now()
                    WHERE name = \(name) AND (next_tick IS NULL OR next_tick < \(through))
                    RETURNING 1
                    """, logger: logger
                ).collect().count == 1
            guard advanced else { return false }
            try await insert(tasks, on: connection)
            return true
        }
    }

    /// Readies a connection that a host claims tasks and writes its runs with (starts, ends,
    /// retries, output): every statement of those reads the claimable index in its order or finds
    /// runs by their primary key, and the planner is told to keep to that. A queue table's
    /// statistics are always out of date (its pending share goes from none to all between two
    /// analyses), and on them the planner chose plans that read every row: a claim of 3,000 from
    /// 60,000 pending read and sorted all 60,000 (a bitmap scan); a batch of 600 ends hashed a
    /// sequential scan of the whole table, or every running row, to update 600. JIT compilation
    /// is off too: a plan that keeps a scan the planner was told to avoid (a small table's) costs
    /// more than JIT's threshold, and compiling took 170 ms of each claim.
    public func prepareHostConnection(_ connection: PostgresConnection) async throws {
        for setting in ["enable_bitmapscan", "enable_seqscan", "enable_hashjoin", "enable_mergejoin", "jit"] {
            try await connection.query(PostgresQuery(unsafeSQL: "SET \(setting) = off"), logger: logger)
        }
    }

    /// Claims up to `slots` due tasks (pending, or scheduled or retrying whose time has come)
    /// whose name is in `names` (this host's registry), by priority, then due time, then
    /// submission order; paused queues are passed over, and a queue's `max_running` holds across
    /// all hosts: ``claimUnlimited(slots:names:lease:on:)``, then
    /// ``claimLimited(slots:names:lease:on:)`` for the slots left.
    public func claim(slots: Int, names: [String], lease: Duration, on connection: PostgresConnection) async throws -> [Claim] {
        let claims = try await claimUnlimited(slots: slots, names: names, lease: lease, on: connection).claims
        return claims + (try await claimLimited(slots: slots - claims.count, names: names, lease: lease, on: connection))
    }

    /// Claims the due tasks of the queues without a limit that are not paused, in one statement
    /// (`FOR UPDATE SKIP LOCKED`, so that claiming hosts never wait for each other; atomic on its
    /// own, so no transaction and one round trip: an idle host's latency).
    ///
    /// `secondsUntilDue`: how long a host that claimed fewer than `slots` may sleep, the seconds
    /// until the earliest task of `names` that waits for its time becomes due, by the claim's own
    /// clock (nil: none waits). A task that is due and was not claimed is held back by something
    /// that notifies when it changes (a pause, a queue's limit, another host's claim), so it is
    /// not counted: counted, a paused queue's pending task had every host claim again at once,
    /// thousands of times a second.
    public func claimUnlimited(
        slots: Int, names: [String], lease: Duration, on connection: PostgresConnection
    ) async throws -> (claims: [Claim], secondsUntilDue: Double?) {
        guard slots > 0, !names.isEmpty else { return ([], nil) }
        return try await claim(slots, names: names, lease: Self.milliseconds(lease), queues: .unlimited, on: connection)
    }

    /// Claims the due tasks of the queues with a limit, each queue in a transaction under its
    /// row's lock, so that two hosts never both see its last free slot.
    public func claimLimited(slots: Int, names: [String], lease: Duration, on connection: PostgresConnection) async throws -> [Claim] {
        guard slots > 0, !names.isEmpty else { return [] }
        var limited: [(name: String, maxRunning: Int)] = []
        for try await (name, maxRunning) in try await connection.query(
            "SELECT name, max_running FROM pybgd_queues WHERE NOT paused AND max_running IS NOT NULL ORDER BY name", logger: logger
        ).decode((String, Int).self) {
            limited.append((name, maxRunning))
        }
        let leaseMilliseconds = Self.milliseconds(lease)
        var claims: [Claim] = []
        for queue in limited where claims.count < slots {
            let wanted = slots - claims.count
            claims += try await connection.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT 1 FROM pybgd_queues WHERE name = \(queue.name) FOR UPDATE", logger: logger)
                let running =
                    try await connection.query(
                        "SELECT count(*) FROM pybgd_tasks WHERE state = 'running' AND lease_expires_at IS NOT NULL AND queue = \(queue.name)", logger: logger
                    ).collect().first?.decode(Int.self) ?? 0
                let free = min(wanted, queue.maxRunning - running)
                guard free > 0 else { return [] }
                return try await claim(free, names: names, lease: leaseMilliseconds, queues: .only(queue.name), on: connection).claims
            }
        }
        return claims
    }

    private enum QueueChoice {
        /// Every queue neither paused nor limited.
        case unlimited
        case only(String)
    }

    private func claim(
        _ slots: Int, names: [String], lease leaseMilliseconds: Int64, queues: QueueChoice, on connection: PostgresConnection
    ) async throws -> (claims: [Claim], secondsUntilDue: Double?) {
        let only: String? =
            switch queues {
            case .unlimited: nil
            case .only(let name): name
            }
        let rows = try await connection.query(
            """
            WITH chosen AS (
                SELECT id FROM pybgd_tasks
                WHERE state IN ('pending', 'scheduled', 'retrying') AND run_at <= now() AND name = ANY(\(names))
                  AND CASE WHEN \(only)::text IS NULL
                           THEN queue NOT IN (SELECT name FROM pybgd_queues WHERE paused OR max_running IS NOT NULL)
                           ELSE queue = \(only) END
                ORDER BY priority DESC, run_at, sequence
                LIMIT \(slots)
                FOR UPDATE SKIP LOCKED
            ), claimed AS (
                UPDATE pybgd_tasks AS t
                SET state = 'running', host = \(host), fence = t.fence + 1, attempt = t.attempt + 1,
                    lease_expires_at = now() + \(leaseMilliseconds) * interval '1 millisecond', started_at = NULL
                -- By the primary key (= ANY of an array): joined with the chosen rows, the planner
                -- hashed the whole table when it was small (20,000 rows: 3.4 ms of a claim's 10.8).
                WHERE t.id = ANY(ARRAY(SELECT id FROM chosen))
                RETURNING t.id, t.fence, t.attempt, t.name, t.record::text AS record, t.priority, t.run_at, t.sequence
            )
            -- In the order they were chosen (the host starts them in it), as one row of arrays:
            -- a row per claim cost the client more than the arrays. Sorted once, below: an ORDER
            -- BY in each aggregate sorted the claims five times (a tenth of a claim's time).
            SELECT coalesce(array_agg(id), '{}'), coalesce(array_agg(fence), '{}'), coalesce(array_agg(attempt), '{}'),
                   coalesce(array_agg(name), '{}'), coalesce(array_agg(record), '{}'),
                   -- The same now() as the claim's: a task is either due for it or counted here.
                   (SELECT extract(epoch FROM min(run_at) - now())::double precision FROM pybgd_tasks
                    WHERE state IN ('scheduled', 'retrying') AND run_at > now() AND name = ANY(\(names)))
            FROM (SELECT * FROM claimed ORDER BY priority DESC, run_at, sequence) AS sorted
            """, logger: logger
        ).collect()
        guard let row = rows.first else { return ([], nil) }
        let (ids, fences, attempts, names, records, untilDue) = try row.decode(([UUID], [Int64], [Int], [String], [String], Double?).self)
        let claims = ids.indices.map { Claim(id: ids[$0], fence: fences[$0], attempt: attempts[$0], name: names[$0], record: records[$0]) }
        return (claims, untilDue)
    }

    /// Extends the lease of every task this host runs, in one statement; returns the ids renewed.
    /// A task this host holds that is missing from them was taken from it (its lease ran out and
    /// another host rescued it): this host must stop it, and its writes will be fenced off.
    ///
    /// `only`: renew these of its tasks and no others. A host names what it holds: a claim whose
    /// reply was lost with its connection leaves a row running on this host that it does not
    /// know of, and that row must expire to be rescued, not be renewed for ever.
    @discardableResult
    public func renewLeases(_ lease: Duration, only ids: [UUID]? = nil, on connection: PostgresConnection) async throws -> [UUID] {
        var renewed: [UUID] = []
        for try await id in try await connection.query(
            """
            UPDATE pybgd_tasks SET lease_expires_at = now() + \(Self.milliseconds(lease)) * interval '1 millisecond'
            WHERE state = 'running' AND lease_expires_at IS NOT NULL AND host = \(host) AND (\(ids == nil) OR id = ANY(\(ids ?? [])))
            RETURNING id
            """, logger: logger
        ).decode(UUID.self) {
            renewed.append(id)
        }
        return renewed
    }

    /// Records that the claimed run starts (its body is about to run); false when the fence is
    /// no longer the row's (the task was rescued and claimed again meanwhile).
    public func recordStart(_ claim: Claim, on connection: PostgresConnection) async throws -> Bool {
        try await applied(
            connection.query(
                """
                UPDATE pybgd_tasks SET started_at = now()
                WHERE id = \(claim.id) AND fence = \(claim.fence) AND state = 'running'
                RETURNING 1
                """, logger: logger))
    }

    /// Records that many claimed runs start, in one statement (workers starting together share a
    /// commit); returns the ids whose start applied. One missing was fenced off: its body must
    /// not run.
    public func recordStarts(_ claims: [Claim], on connection: PostgresConnection) async throws -> Set<UUID> {
        guard !claims.isEmpty else { return [] }
        var applied: Set<UUID> = []
        for try await id in try await connection.query(
            """
            UPDATE pybgd_tasks AS t SET started_at = now()
            FROM unnest(\(claims.map(\.id))::uuid[], \(claims.map(\.fence))::bigint[]) AS c(id, fence)
            WHERE t.id = c.id AND t.fence = c.fence AND t.state = 'running'
            RETURNING t.id
            """, logger: logger
        ).decode(UUID.self) {
            applied.insert(id)
        }
        return applied
    }

    /// Records that an attempt of the claimed run failed and the host runs it again after a
    /// delay, holding its lease meanwhile: the attempt counts (a rescue then knows how many are
    /// left), and `attempts` (JSON) lists the failed ones. False when fenced off.
    public func recordRetry(_ claim: Claim, attempts: String, on connection: PostgresConnection) async throws -> Bool {
        try await applied(
            connection.query(
                """
                UPDATE pybgd_tasks SET attempt = attempt + 1, attempts = \(attempts)::jsonb, started_at = NULL
                WHERE id = \(claim.id) AND fence = \(claim.fence) AND state = 'running'
                RETURNING 1
                """, logger: logger))
    }

    /// Gives back claimed runs that never started (a host shutting down with tasks at hand):
    /// pending again at once for any host, their claim not counted as an attempt. Returns the
    /// ids given back; one missing was fenced off.
    @discardableResult
    public func release(_ claims: [Claim], on connection: PostgresConnection) async throws -> Set<UUID> {
        guard !claims.isEmpty else { return [] }
        var released: Set<UUID> = []
        for try await (id, _) in try await connection.query(
            """
            WITH released AS (
                UPDATE pybgd_tasks AS t
                SET state = 'pending', host = NULL, lease_expires_at = NULL, attempt = t.attempt - 1
                FROM unnest(\(claims.map(\.id))::uuid[], \(claims.map(\.fence))::bigint[]) AS c(id, fence)
                WHERE t.id = c.id AND t.fence = c.fence AND t.state = 'running'
                  AND t.started_at IS NULL
                RETURNING t.id
            )
            SELECT id, pg_notify(\(Self.wakeChannel), '') IS NULL FROM released
            """, logger: logger
        ).decode((UUID, Bool).self) {
            released.insert(id)
        }
        return released
    }

    /// Records the run's end (`finished`, `failed`, `cancelled`) with its outcome JSON; false
    /// when the fence is no longer the row's, and then nothing was written.
    public func recordEnd(_ claim: Claim, state: String, outcome: String, on connection: PostgresConnection) async throws -> Bool {
        try await applied(
            connection.query(
                """
                UPDATE pybgd_tasks SET state = \(state), outcome = \(outcome)::jsonb, ended_at = now(), lease_expires_at = NULL
                WHERE id = \(claim.id) AND fence = \(claim.fence) AND state = 'running'
                RETURNING 1
                """, logger: logger))
    }

    /// One run's end, for ``recordEnds(_:on:)``.
    public struct End: Sendable {
        public var claim: Claim
        /// `finished`, `failed` or `cancelled`.
        public var state: String
        public var outcome: String

        public init(_ claim: Claim, state: String, outcome: String) {
            self.claim = claim
            self.state = state
            self.outcome = outcome
        }
    }

    /// Records many runs' ends in one statement (a host gathers the ends of a few milliseconds),
    /// each only with its run's fence, and wakes the hosts (a queue limit may have a free slot).
    /// Returns the ids whose end applied; an end missing from it was fenced off.
    public func recordEnds(_ ends: [End], on connection: PostgresConnection) async throws -> Set<UUID> {
        try await writeEnds(ends, on: connection).applied
    }

    /// Records ends as ``recordEnds(_:on:)`` does, then settles the tasks waiting for them
    /// (``settle(after:on:)``), only if some have dependents (an index probe per end: the
    /// settling's own statement is not free, and most tasks have none). Returns the ids whose
    /// end applied.
    public func recordEndsAndSettle(_ ends: [End], on connection: PostgresConnection) async throws -> Set<UUID> {
        let (applied, prerequisites) = try await writeEnds(ends, on: connection)
        if !prerequisites.isEmpty { try await settle(after: prerequisites, on: connection) }
        return applied
    }

    private func writeEnds(_ ends: [End], on connection: PostgresConnection) async throws -> (applied: Set<UUID>, prerequisites: [UUID]) {
        guard !ends.isEmpty else { return ([], []) }
        // One row back: the ids as arrays (a row per end cost the client more than the arrays),
        // one notification, and the dependents looked for only while some task waits at all.
        let rows = try await connection.query(
            """
            WITH ended AS (
                UPDATE pybgd_tasks AS t
                SET state = e.state, outcome = e.outcome::jsonb, ended_at = now(), lease_expires_at = NULL
                FROM unnest(\(ends.map(\.claim.id))::uuid[], \(ends.map(\.claim.fence))::bigint[], \(ends.map(\.state))::text[],
                            \(ends.map(\.outcome))::text[]) AS e(id, fence, state, outcome)
                WHERE t.id = e.id AND t.fence = e.fence AND t.state = 'running'
                RETURNING t.id
            ), judged AS (
                SELECT id, CASE WHEN (SELECT EXISTS (SELECT 1 FROM pybgd_tasks WHERE state = 'waiting'))
                                THEN EXISTS (SELECT 1 FROM pybgd_dependencies AS d WHERE d.after = ended.id) ELSE false END AS waited_for
                FROM ended
            )
            SELECT coalesce(array_agg(id), '{}'), coalesce(array_agg(id) FILTER (WHERE waited_for), '{}'),
                   CASE WHEN count(*) > 0 THEN pg_notify(\(Self.wakeChannel), '') END IS NULL
            FROM judged
            """, logger: logger
        ).collect()
        guard let row = rows.first else { return ([], []) }
        let (applied, prerequisites, _) = try row.decode(([UUID], [UUID], Bool).self)
        return (Set(applied), prerequisites)
    }

    // MARK: - Output

    /// A piece of a run's output: `data` written at `position` of `stream` (1 stdout, 2 stderr),
    /// positions counting every byte written (a dropped middle leaves a gap).
    public struct OutputPiece: Sendable, Equatable {
        public var id: UUID
        public var fence: Int64
        public var stream: Int16
        public var position: Int64
        public var data: [UInt8]

        public init(id: UUID, fence: Int64, stream: Int16, position: Int64, data: [UInt8]) {
            self.id = id
            self.fence = fence
            self.stream = stream
            self.position = position
            self.data = data
        }
    }

    /// Writes pieces of runs' output in one statement, each only while its run's fence is the
    /// row's and it runs (a host whose task was taken over writes nothing). Returns how many
    /// went in.
    @discardableResult
    public func writeOutput(_ pieces: [OutputPiece], on connection: PostgresConnection) async throws -> Int {
        guard !pieces.isEmpty else { return 0 }
        let rows = try await connection.query(
            """
            WITH written AS (
                INSERT INTO pybgd_output (task, fence, stream, position, data)
                SELECT p.task, p.fence, p.stream, p.position, decode(p.data, 'base64')
                FROM unnest(\(pieces.map(\.id))::uuid[], \(pieces.map(\.fence))::bigint[], \(pieces.map(\.stream))::smallint[],
                            \(pieces.map(\.position))::bigint[], \(pieces.map { Data($0.data).base64EncodedString() })::text[])
                     AS p(task, fence, stream, position, data)
                JOIN pybgd_tasks AS t ON t.id = p.task AND t.fence = p.fence AND t.state = 'running'
                -- Written again from the same position (by the end, racing the copy as it
                -- grows): the longer piece stays. Pieces may overlap; readers skip what they had.
                ON CONFLICT (task, fence, stream, position) DO UPDATE SET data = excluded.data
                    WHERE length(excluded.data) > length(pybgd_output.data)
                RETURNING 1
            )
            SELECT count(*) FROM written
            """, logger: logger
        ).collect()
        return try rows.first?.decode(Int.self) ?? 0
    }

    /// Removes the pieces of a run's stream that lie wholly between `keptHead` and `keptTail`
    /// (the middle its host no longer keeps: the database keeps no more than the host does).
    public func dropOutput(
        _ id: UUID, fence: Int64, stream: Int16, between keptHead: Int64, and keptTail: Int64, on connection: PostgresConnection
    ) async throws {
        try await connection.query(
            """
            DELETE FROM pybgd_output
            WHERE task = \(id) AND fence = \(fence) AND stream = \(stream)
              AND position >= \(keptHead) AND position + length(data) <= \(keptTail)
            """, logger: logger)
    }

    /// The output of a task's latest run that is kept in the database from `positions` on
    /// (per stream; absent: from 0): the pieces that reach past them, by position (they may
    /// overlap); the fence of that run (nil: none kept).
    public func output(
        of id: UUID, from positions: [Int16: Int64], on connection: PostgresConnection
    ) async throws -> (fence: Int64?, pieces: [OutputPiece]) {
        var fence: Int64?
        var pieces: [OutputPiece] = []
        for try await (runFence, stream, position, data) in try await connection.query(
            """
            SELECT fence, stream, position, encode(data, 'base64') FROM pybgd_output
            WHERE task = \(id) AND fence = (SELECT max(fence) FROM pybgd_output WHERE task = \(id))
              AND position + length(data) > CASE stream WHEN 1 THEN \(positions[1] ?? 0) ELSE \(positions[2] ?? 0) END
            ORDER BY stream, position
            """, logger: logger
        ).decode((Int64, Int16, Int64, String).self) {
            fence = runFence
            let bytes = Data(base64Encoded: data, options: .ignoreUnknownCharacters).map { [UInt8]($0) } ?? []
            pieces.append(OutputPiece(id: id, fence: runFence, stream: stream, position: position, data: bytes))
        }
        return (fence, pieces)
    }

    /// A host as the cluster's STATUS shows it.
    public struct Host: Sendable, Equatable {
        public var name: String
        /// Since its last heartbeat, by the database's clock.
        public var silentFor: Duration
        public var workers: Int
        public var running: Int
        public var version: String
    }

    /// Records this host's heartbeat: alive now, with its workers and the tasks it runs.
    public func heartbeat(workers: Int, running: Int, version: String, on connection: PostgresConnection) async throws {
        try await connection.query(
            """
            INSERT INTO pybgd_hosts (name, started_at, heartbeat_at, workers, running, version)
            VALUES (\(host), now(), now(), \(workers), \(running), \(version))
            ON CONFLICT (name) DO UPDATE
            SET heartbeat_at = now(), workers = excluded.workers, running = excluded.running, version = excluded.version
            """, logger: logger)
    }

    /// Every host that has run on this database, the most recently heard first.
    public func hosts(on connection: PostgresConnection) async throws -> [Host] {
        var hosts: [Host] = []
        for try await (name, silentMilliseconds, workers, running, version) in try await connection.query(
            """
            SELECT name, (extract(epoch FROM now() - heartbeat_at) * 1000)::bigint, workers, running, version
            FROM pybgd_hosts ORDER BY heartbeat_at DESC, name
            """, logger: logger
        ).decode((String, Int64, Int, Int, String).self) {
            hosts.append(Host(name: name, silentFor: .milliseconds(silentMilliseconds), workers: workers, running: running, version: version))
        }
        return hosts
    }

    /// The tasks not yet ended, counted by state.
    public func liveCounts(on connection: PostgresConnection) async throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for try await (state, count) in try await connection.query(
            "SELECT state, count(*)::bigint FROM pybgd_tasks WHERE state IN \(unescaped: Self.liveStates) GROUP BY state", logger: logger
        ).decode((String, Int).self) {
            counts[state] = count
        }
        return counts
    }

    /// A task as the shared table holds it.
    public struct Row: Sendable, Equatable {
        public var id: UUID
        public var name: String
        /// As clients see it (``shownState``): a claimed run not started yet is `pending`.
        public var state: String
        public var record: String
        public var submittedAt: Date
        public var runAt: Date
        public var startedAt: Date?
        public var endedAt: Date?
        /// `{"result":…,"error":…}` once ended.
        public var outcome: String?
        public var attempt: Int
        public var maxAttempts: Int
        /// The host that claimed it last.
        public var host: String?
    }

    /// The tasks whose id (32 hex digits, no dashes) starts with `prefix`, at most `limit`.
    public func rows(idPrefix prefix: String, limit: Int, on connection: PostgresConnection) async throws -> [Row] {
        let exact = prefix.count == 32 ? UUID(uuidString: Self.dashed(prefix)) : nil
        return try await rows(
            """
            SELECT \(unescaped: Self.rowColumns) FROM pybgd_tasks
            WHERE CASE WHEN \(exact)::uuid IS NULL THEN replace(id::text, '-', '') LIKE \(prefix + "%") ELSE id = \(exact) END
            ORDER BY sequence LIMIT \(limit)
            """, on: connection)
    }

    /// A page of the cluster's tasks, newest first: `limit` from `offset`, of the states given as
    /// clients see them (a claimed run not yet started is `pending`, or `retrying` between
    /// attempts; none given: all), and how many match.
    public func page(offset: Int, limit: Int, states: [String], on connection: PostgresConnection) async throws -> (rows: [Row], matched: Int) {
        let shown = Self.shownState
        let matched =
            try await connection.query(
                "SELECT count(*) FROM pybgd_tasks WHERE cardinality(\(states)::text[]) = 0 OR \(unescaped: shown) = ANY(\(states))", logger: logger
            ).collect().first?.decode(Int.self) ?? 0
        let rows = try await rows(
            """
            SELECT \(unescaped: Self.rowColumns) FROM pybgd_tasks
            WHERE cardinality(\(states)::text[]) = 0 OR \(unescaped: shown) = ANY(\(states))
            ORDER BY sequence DESC OFFSET \(max(0, offset)) LIMIT \(max(0, limit))
            """, on: connection)
        return (rows, matched)
    }

    /// The columns a ``Row`` is read from, in its order.
    private static let rowColumns =
        "id, name, \(shownState), record::text, submitted_at, run_at, started_at, ended_at, outcome::text, attempt, max_attempts, host"

    private func rows(_ query: PostgresQuery, on connection: PostgresConnection) async throws -> [Row] {
        var rows: [Row] = []
        for try await (id, name, state, record, submitted, runAt, started, ended, outcome, attempt, maxAttempts, host)
            in try await connection
            .query(query, logger: logger)
            .decode((UUID, String, String, String, Date, Date, Date?, Date?, String?, Int, Int, String?).self)
        {
            rows.append(
                Row(
                    id: id, name: name, state: state, record: record, submittedAt: submitted, runAt: runAt, startedAt: started, endedAt: ended,
                    outcome: outcome, attempt: attempt, maxAttempts: maxAttempts, host: host))
        }
        return rows
    }

    private static func dashed(_ hex: String) -> String {
        let characters = Array(hex)
        return [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(characters[$0]) }.joined(separator: "-")
    }

    /// Takes back every task whose lease ran out (its host died, hung or lost the database):
    /// another attempt if it is retry-safe or has attempts left, else `interrupted`; a task whose
    /// hosts died with it `crashLimit` times is `quarantined` instead of tried again. A run that
    /// had not started (its start is recorded before its body runs, unless it is retry-safe) is
    /// simply pending again: its claim is not an attempt, nor its host's death a crash of its.
    /// Any host may run this; each expired task is taken back once (`SKIP LOCKED`).
    ///
    /// `ownedBy`: instead of expired leases, every task that host holds, whatever its lease: a
    /// host starting again rescues what its earlier life left at once.
    public func rescue(crashLimit: Int, ownedBy owner: String? = nil, on connection: PostgresConnection) async throws -> Rescue {
        var rescue = Rescue()
        for try await (id, state) in try await connection.query(
            """
            WITH expired AS (
                SELECT id FROM pybgd_tasks
                WHERE state = 'running' AND lease_expires_at IS NOT NULL
                  AND CASE WHEN \(owner)::text IS NULL THEN lease_expires_at < now() ELSE host = \(owner) END
                FOR UPDATE SKIP LOCKED
            ), judged AS (
                SELECT t.id, t.started_at IS NULL AND NOT t.retry_safe AS unstarted,
                       CASE
                           -- Stopped as asked: its host died before it could end it.
                           WHEN t.stop IS NOT NULL AND (t.stop->>'kind' = 'kill' OR t.started_at IS NULL) THEN 'cancelled'
                           WHEN t.started_at IS NULL AND NOT t.retry_safe THEN 'pending'
                           WHEN t.crashes + 1 >= \(crashLimit) THEN 'quarantined'
                           WHEN t.retry_safe OR t.attempt < t.max_attempts THEN 'pending'
                           ELSE 'interrupted' END AS state
                FROM pybgd_tasks AS t JOIN expired USING (id)
            )
            UPDATE pybgd_tasks AS t
            SET crashes = t.crashes + CASE WHEN j.unstarted THEN 0 ELSE 1 END,
                attempt = t.attempt - CASE WHEN j.unstarted THEN 1 ELSE 0 END,
                lease_expires_at = NULL, host = NULL, state = j.state,
                ended_at = CASE WHEN j.state = 'pending' THEN NULL ELSE now() END,
                outcome = CASE
                    WHEN j.state = 'cancelled' THEN jsonb_build_object('result', NULL, 'error', jsonb_build_object(
                        'code', CASE WHEN t.stop->>'kind' = 'kill' THEN 'killed' ELSE 'cancelled' END,
                        'message', format('%s by %s; its host (%s) stopped answering before it ended it',
                                          CASE WHEN t.stop->>'kind' = 'kill' THEN 'killed' ELSE 'cancelled' END, t.stop->>'by', t.host)))
                    WHEN j.state = 'quarantined' THEN jsonb_build_object('error', jsonb_build_object(
                        'code', 'quarantined',
                        'message', format('not run again: its host died while it ran, %s times (state.crash_limit); look at it before retrying', t.crashes + 1)))
                    WHEN j.state = 'interrupted' THEN jsonb_build_object('error', jsonb_build_object(
                        'code', 'interrupted',
                        'message', format('its host (%s) stopped answering while attempt %s ran; whether it completed is unknown', t.host, t.attempt)))
                    ELSE t.outcome END
            FROM judged AS j WHERE t.id = j.id
            RETURNING t.id, t.state
            """, logger: logger
        ).decode((UUID, String).self) {
            switch state {
            case "pending": rescue.retried.append(id)
            case "quarantined": rescue.quarantined.append(id)
            case "cancelled": rescue.cancelled.append(id)
            default: rescue.interrupted.append(id)
            }
        }
        if !rescue.retried.isEmpty { try await connection.query("SELECT pg_notify(\(Self.wakeChannel), '')", logger: logger) }
        return rescue
    }

    // MARK: - Stopping a task from any host

    /// What is asked of a task by ``requestStop(_:_:by:error:on:)``.
    public enum StopKind: String, Sendable {
        /// CANCEL: only a task that has not started (or waits between attempts).
        case cancel
        /// KILL: a task not running is cancelled; a running one is asked to stop.
        case kill
    }

    /// What ``requestStop(_:_:by:error:on:)`` did.
    public enum StopRequestOutcome: Sendable, Equatable {
        /// No host held it: it is cancelled now, with the error given.
        case cancelled
        /// A host holds it: the stop is recorded in its row and that host notified.
        case asked(host: String)
        /// Nothing: it has ended, or (`cancel`) its run has started.
        case refused
    }

    /// Stops a task whichever host holds it, in one statement. A task no host holds (pending,
    /// scheduled) ends `cancelled` at once with `error` (`{"code":…,"message":…}` parts); one a
    /// host holds gets the stop in its `stop` column and its host a notification on
    /// ``stopChannel``: that host stops it (``stopRequests(on:)``), and if it dies first, the
    /// rescue ends it `cancelled` instead of running it again.
    public func requestStop(
        _ id: UUID, _ kind: StopKind, by who: String, error: (code: String, message: String), on connection: PostgresConnection
    ) async throws -> StopRequestOutcome {
        let rows = try await connection.query(
            """
            WITH stopped AS (
                UPDATE pybgd_tasks SET
                    state = CASE WHEN state = 'running' THEN state ELSE 'cancelled' END,
                    ended_at = CASE WHEN state = 'running' THEN ended_at ELSE now() END,
                    outcome = CASE WHEN state = 'running' THEN outcome ELSE jsonb_build_object('result', NULL, 'error',
                        jsonb_build_object('code', \(error.code)::text, 'message', \(error.message)::text)) END,
                    stop = CASE WHEN state = 'running' THEN jsonb_build_object('kind', \(kind.rawValue)::text, 'by', \(who)::text) ELSE stop END
                WHERE id = \(id) AND state IN \(unescaped: Self.liveStates)
                  AND (\(kind.rawValue) = 'kill' OR state <> 'running' OR started_at IS NULL)
                RETURNING state, host
            )
            SELECT state, host, CASE WHEN state = 'running' THEN pg_notify(\(Self.stopChannel), host) END IS NULL FROM stopped
            """, logger: logger
        ).collect()
        guard let row = rows.first else { return .refused }
        let (state, holder, _) = try row.decode((String, String?, Bool).self)
        return state == "running" ? .asked(host: holder ?? "") : .cancelled
    }

    /// A stop asked of this host, for one of the tasks it runs.
    public struct StopRequest: Sendable, Equatable {
        public var id: UUID
        public var kind: StopKind
        /// Who asked (a client, on some host).
        public var by: String
    }

    /// The stops asked of the tasks this host runs (read at each renewal and on a notification).
    public func stopRequests(on connection: PostgresConnection) async throws -> [StopRequest] {
        var requests: [StopRequest] = []
        for try await (id, kind, by) in try await connection.query(
            """
            SELECT id, stop->>'kind', coalesce(stop->>'by', 'another host')
            FROM pybgd_tasks WHERE state = 'running' AND lease_expires_at IS NOT NULL AND host = \(host) AND stop IS NOT NULL
            """, logger: logger
        ).decode((UUID, String?, String).self) {
            requests.append(StopRequest(id: id, kind: kind.flatMap(StopKind.init) ?? .kill, by: by))
        }
        return requests
    }

    // MARK: - Queues

    /// Stores the configured limits of queues (a host's configuration), keeping whether each is
    /// paused. Hosts should configure a queue alike: the last host to start sets its limit.
    public func configure(queues: [(name: String, maxRunning: Int?)], on connection: PostgresConnection) async throws {
        guard !queues.isEmpty else { return }
        try await connection.query(
            """
            INSERT INTO pybgd_queues (name, max_running)
            SELECT name, nullif(max_running, 0) FROM unnest(\(queues.map(\.name))::text[], \(queues.map { $0.maxRunning ?? 0 })::integer[])
                AS q(name, max_running)
            ON CONFLICT (name) DO UPDATE SET max_running = excluded.max_running
            """, logger: logger)
    }

    /// Pauses or resumes a queue for every host.
    public func setPaused(_ queue: String, _ paused: Bool, on connection: PostgresConnection) async throws {
        try await connection.query(
            """
            INSERT INTO pybgd_queues (name, paused) VALUES (\(queue), \(paused))
            ON CONFLICT (name) DO UPDATE SET paused = excluded.paused
            """, logger: logger)
        if !paused { try await connection.query("SELECT pg_notify(\(Self.wakeChannel), '')", logger: logger) }
    }

    /// The queues paused now.
    public func pausedQueues(on connection: PostgresConnection) async throws -> [String] {
        var names: [String] = []
        for try await name in try await connection.query("SELECT name FROM pybgd_queues WHERE paused ORDER BY name", logger: logger)
            .decode(String.self)
        {
            names.append(name)
        }
        return names
    }

    // MARK: - Retention

    /// Removes ended tasks: those of `ids` (nil: any) that ended before `cutoff` (nil: any time);
    /// returns the ids removed.
    public func removeEnded(_ ids: [UUID]? = nil, before cutoff: Date? = nil, on connection: PostgresConnection) async throws -> [UUID] {
        var removed: [UUID] = []
        for try await id in try await connection.query(
            """
            DELETE FROM pybgd_tasks
            WHERE ended_at IS NOT NULL AND (\(cutoff)::timestamptz IS NULL OR ended_at < \(cutoff))
              AND (\(ids == nil) OR id = ANY(\(ids ?? [])))
            RETURNING id
            """, logger: logger
        ).decode(UUID.self) {
            removed.append(id)
        }
        return removed
    }

    /// Keeps the `count` most recently ended tasks and removes the older ones.
    public func keepEnded(_ count: Int, on connection: PostgresConnection) async throws {
        try await connection.query(
            """
            DELETE FROM pybgd_tasks WHERE ended_at IS NOT NULL AND id NOT IN (
                SELECT id FROM pybgd_tasks WHERE ended_at IS NOT NULL ORDER BY ended_at DESC, sequence DESC LIMIT \(count))
            """, logger: logger)
    }

    private func applied(_ rows: PostgresRowSequence) async throws -> Bool {
        for try await _ in rows { return true }
        return false
    }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }
}
