import Logging
import PostgresNIO

/// The shared store's tables, created and migrated by pybgd at start: each version's statements
/// in one transaction, under an advisory lock so that hosts starting together migrate once. A
/// database written by a newer pybgd is refused, as the SQLite store refuses a newer file.
///
/// Version 1 is not final until the PostgreSQL store is served by pybgd (no released pybgd writes
/// it yet); from then on a change is a new version.
public enum PostgresSchema {
    /// The newest version this pybgd knows.
    public static var latestVersion: Int { migrations.count }

    /// Held for the migration's transaction: `pg_advisory_xact_lock` takes a 64-bit key
    /// ("pybgd" in ASCII).
    static let migrationLock: Int64 = 0x70_79_62_67_64

    /// The statements of version N at index N - 1.
    static let migrations: [[String]] = [
        [
            // One row per host that has run: its heartbeat shows it alive, its workers and running
            // count what the cluster's STATUS shows.
            """
            CREATE TABLE pybgd_hosts (
                name text PRIMARY KEY,
                started_at timestamptz NOT NULL,
                heartbeat_at timestamptz NOT NULL,
                workers integer NOT NULL,
                running integer NOT NULL DEFAULT 0,
                version text NOT NULL
            )
            """,
            // Every task of the cluster. `sequence` is the submission order; a claimed task has a
            // host, a lease and a fence (the token every start, end and output write must carry).
            """
            CREATE TABLE pybgd_tasks (
                id uuid PRIMARY KEY,
                sequence bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
                name text NOT NULL,
                record jsonb NOT NULL,
                queue text NOT NULL DEFAULT 'default',
                priority integer NOT NULL DEFAULT 0,
                state text NOT NULL CHECK (state IN (
                    'scheduled', 'waiting', 'pending', 'running', 'retrying',
                    'finished', 'failed', 'cancelled', 'interrupted', 'quarantined')),
                run_at timestamptz NOT NULL DEFAULT now(),
                submitted_at timestamptz NOT NULL DEFAULT now(),
                submitted_on text NOT NULL,
                unique_key text,
                attempt integer NOT NULL DEFAULT 0,
                max_attempts integer NOT NULL DEFAULT 1 CHECK (max_attempts > 0),
                retry_safe boolean NOT NULL DEFAULT false,
                attempts jsonb NOT NULL DEFAULT '[]',
                host text,
                lease_expires_at timestamptz,
                fence bigint NOT NULL DEFAULT 0,
                crashes integer NOT NULL DEFAULT 0,
                stop jsonb,
                started_at timestamptz,
                ended_at timestamptz,
                outcome jsonb
            )
            """,
            // The claim's scan: tasks waiting for a worker or for their time, by priority, then due
            // time, then submission order.
            """
            CREATE INDEX pybgd_tasks_claimable ON pybgd_tasks (priority DESC, run_at, sequence)
                WHERE state IN ('pending', 'scheduled', 'retrying')
            """,
            // The rescue's scan: running tasks by lease end.
            "CREATE INDEX pybgd_tasks_leases ON pybgd_tasks (lease_expires_at) WHERE state = 'running'",
            // Due work that is not yet pending: scheduled and retrying tasks by time.
            "CREATE INDEX pybgd_tasks_due ON pybgd_tasks (run_at) WHERE state IN ('scheduled', 'retrying')",
            // Ended tasks by end, for retention.
            "CREATE INDEX pybgd_tasks_ended ON pybgd_tasks (ended_at) WHERE ended_at IS NOT NULL",
            // One live task per unique key, cluster-wide.
            """
            CREATE UNIQUE INDEX pybgd_tasks_unique_key ON pybgd_tasks (unique_key)
                WHERE unique_key IS NOT NULL AND state IN ('scheduled', 'waiting', 'pending', 'running', 'retrying')
            """,
            """
            CREATE TABLE pybgd_dependencies (
                task uuid NOT NULL REFERENCES pybgd_tasks (id) ON DELETE CASCADE,
                after uuid NOT NULL,
                PRIMARY KEY (task, after)
            )
            """,
            "CREATE INDEX pybgd_dependencies_after ON pybgd_dependencies (after)",
            """
            CREATE TABLE pybgd_queues (
                name text PRIMARY KEY,
                max_running integer CHECK (max_running IS NULL OR max_running > 0),
                paused boolean NOT NULL DEFAULT false
            )
            """,
            // A schedule's next tick is what every host compares and swaps in the transaction that
            // inserts the tick's task: one task per tick without a leader.
            """
            CREATE TABLE pybgd_schedules (
                name text PRIMARY KEY,
                definition jsonb NOT NULL,
                next_tick timestamptz,
                updated_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            """
            CREATE TABLE pybgd_output (
                task uuid NOT NULL REFERENCES pybgd_tasks (id) ON DELETE CASCADE,
                stream smallint NOT NULL,
                segment integer NOT NULL,
                data bytea NOT NULL,
                PRIMARY KEY (task, stream, segment)
            )
            """,
        ],
        [
            // Version 2: dependencies, output and runtime schedules across hosts. The waiting tasks, for the sweep every host
            // runs at each renewal (a host that died between an end and its settling).
            "CREATE INDEX pybgd_tasks_waiting ON pybgd_tasks (id) WHERE state = 'waiting'",
            // Schedules added at run time (SCHEDULE ADD) are the cluster's: their definition is
            // kept, and every host follows them. A config schedule's row holds its progress only.
            """
            ALTER TABLE pybgd_schedules
                ADD COLUMN origin text NOT NULL DEFAULT 'config' CHECK (origin IN ('config', 'runtime')),
                ADD COLUMN paused boolean NOT NULL DEFAULT false,
                ADD COLUMN created_at timestamptz NOT NULL DEFAULT now()
            """,
            // Output kept in the database, for LOG and FOLLOW on any host: each run's (fence)
            // pieces by their position in the stream as written; version 1's table was never
            // written.
            "DROP TABLE pybgd_output",
            """
            CREATE TABLE pybgd_output (
                task uuid NOT NULL REFERENCES pybgd_tasks (id) ON DELETE CASCADE,
                fence bigint NOT NULL,
                stream smallint NOT NULL CHECK (stream IN (1, 2)),
                position bigint NOT NULL CHECK (position >= 0),
                data bytea NOT NULL,
                PRIMARY KEY (task, fence, stream, position)
            )
            """,
        ],
        [
            // Version 3: the leases index no longer serves statements that find a run by its id
            // (ends, starts, output): they say `state = 'running'` too, and on a queue table's
            // always stale statistics (few running rows at the last analysis) the planner read
            // every running row through this index, a host's whole prefetch, for each batch of
            // ends. Every running row has a lease, so the statements that want the running rows
            // as a set (renewals, rescue, stops, a queue's count) say so and still use it.
            "DROP INDEX pybgd_tasks_leases",
            """
            CREATE INDEX pybgd_tasks_leases ON pybgd_tasks (lease_expires_at)
                WHERE state = 'running' AND lease_expires_at IS NOT NULL
            """,
        ],
    ]

    /// Brings the database to ``latestVersion`` and returns the version it found. Throws
    /// ``PostgresStoreError`` for a database of a newer pybgd, or one the role cannot change.
    @discardableResult
    public static func migrate(_ connection: PostgresConnection, logger: Logger) async throws(PostgresStoreError) -> Int {
        do {
            return try await connection.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(\(migrationLock))", logger: logger)
                try await connection.query(
                    "CREATE TABLE IF NOT EXISTS pybgd_schema (version integer NOT NULL, migrated_at timestamptz NOT NULL DEFAULT now())",
                    logger: logger)
                var found = 0
                for try await version in try await connection.query("SELECT max(version) FROM pybgd_schema", logger: logger).decode(
                    Int?.self)
                {
                    found = version ?? 0
                }
                if found > latestVersion {
                    throw PostgresStoreError(
                        .newerSchema,
                        "the database's pybgd tables are at schema version \(found), written by a newer pybgd; this one knows up to \(latestVersion): upgrade pybgd"
                    )
                }
                for version in (found + 1)...max(found + 1, latestVersion) where version <= latestVersion {
                    for statement in migrations[version - 1] {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await connection.query("INSERT INTO pybgd_schema (version) VALUES (\(version))", logger: logger)
                    logger.info("migrated the PostgreSQL store", metadata: ["schema_version": "\(version)"])
                }
                return found
            }
        } catch let error as PostgresStoreError {
            throw error
        } catch let error as PostgresTransactionError {
            if let inner = error.closureError as? PostgresStoreError { throw inner }
            throw PostgresStoreError(.unavailable, "cannot migrate the PostgreSQL store: \(PostgresStoreError.describe(error))")
        } catch {
            throw PostgresStoreError(.unavailable, "cannot migrate the PostgreSQL store: \(PostgresStoreError.describe(error))")
        }
    }

    /// The version a database is at (0 before pybgd's first start on it).
    public static func version(_ connection: PostgresConnection, logger: Logger) async throws -> Int {
        let exists = try await connection.query("SELECT to_regclass('pybgd_schema') IS NOT NULL", logger: logger).collect()
        guard try exists.first?.decode(Bool.self) == true else { return 0 }
        for try await version in try await connection.query("SELECT max(version) FROM pybgd_schema", logger: logger).decode(Int?.self) {
            return version ?? 0
        }
        return 0
    }
}
