import GRDB
import PyBackground

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// The durable task table: one SQLite file in WAL mode, fsynced at every commit
/// (`synchronous = FULL`), held exclusively by one process.
///
/// Opening checks the file before anything is read or written: a file that is not a database,
/// fails SQLite's integrity check, was written by a newer schema, or is held by another process
/// is reported as a ``StateStoreError`` and left untouched, never replaced by an empty one.
///
/// ```swift
/// let store = try StateStore.open(path: "/var/lib/pybgd/pybgd.sqlite")
/// let rows = try store.load()                       // in submission order
/// try store.apply([.insert(row), .started(row.id, at: Date())])   // one transaction
/// ```
public final class StateStore: Sendable {
    /// The database file.
    public let path: String
    /// Set when the store's files (made before, by hand or by an older pybgd) may be read by users
    /// other than pybgd's own and its group: they hold every task's arguments and output.
    public let permissionWarning: String?
    private let database: DatabaseQueue

    private init(path: String, database: DatabaseQueue, permissionWarning: String?) {
        self.path = path
        self.database = database
        self.permissionWarning = permissionWarning
    }

    /// Opens the store at `path`, creating it if missing. A new store's directory is mode 0700 and
    /// its files (the database and its write-ahead log) 0600, whatever the umask; with `groupID`,
    /// 0750 and 0640 and owned by that group, for a backup or monitoring user. The modes of an
    /// existing store are left as they are, and ``permissionWarning`` says when others can read it.
    public static func open(path: String, groupID: UInt32? = nil) throws(StateStoreError) -> StateStore {
        let fileMode: mode_t = groupID == nil ? 0o600 : 0o640
        try createDirectory(containing: path, mode: groupID == nil ? 0o700 : 0o750, groupID: groupID)
        try createFile(path, mode: fileMode, groupID: groupID)
        var configuration = Configuration()
        configuration.label = "pybgd.state"
        configuration.prepareDatabase { db in
            // Exclusive locking: a second daemon on the same file fails at open instead of sharing
            // it, and WAL needs no shared-memory file.
            try db.execute(sql: "PRAGMA locking_mode = EXCLUSIVE")
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            // Acknowledged means on disk: fsync at every commit (group commit keeps that cheap).
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        let database: DatabaseQueue
        do {
            // SQLite gives the write-ahead log the database file's mode; the umask is narrowed too,
            // so that no file of the store is ever more open than the database, not even briefly.
            database = try ProcessUmask.narrowed(to: fileMode) { try DatabaseQueue(path: path, configuration: configuration) }
        } catch {
            throw StateStoreError.opening(path, error)
        }
        let store = StateStore(path: path, database: database, permissionWarning: readableByOthers(path))
        do {
            try store.check()
            try database.write { db in
                if try migrator.hasBeenSuperseded(db) {
                    throw StateStoreError(
                        .newerSchema, path: path,
                        "was written by a newer pybgd (schema \(try migrator.appliedIdentifiers(db).sorted().joined(separator: ", "))); run that version, or move the file aside to start empty"
                    )
                }
            }
            try migrator.migrate(database)
        } catch let error as StateStoreError {
            try? database.close()
            throw error
        } catch {
            try? database.close()
            throw StateStoreError.opening(path, error)
        }
        return store
    }

    /// Every row, in submission order. A row that does not decode makes the whole store corrupt:
    /// silently skipping it would lose a task.
    public func load() throws(StateStoreError) -> [StoredTask] {
        do {
            return try database.read { db in
                var rows: [StoredTask] = []
                let cursor = try Row.fetchCursor(
                    db,
                    sql: """
                        SELECT sequence, id, name, words, args, kwargs, state, submitted_at, run_at, schedule, tick, started_at, ended_at,
                            result, error, options, attempt, attempts
                        FROM task ORDER BY sequence
                        """)
                while let row = try cursor.next() {
                    rows.append(try decode(row))
                }
                return rows
            }
        } catch let error as StateStoreError {
            throw error
        } catch {
            throw StateStoreError.opening(path, error)
        }
    }

    /// Every stored schedule, by name.
    public func loadSchedules() throws(StateStoreError) -> [StoredSchedule] {
        do {
            return try database.read { db in
                try Row.fetchAll(db, sql: "SELECT name, definition, origin, paused, created_at, last_tick FROM schedule ORDER BY name").map { row in
                    let name: String = row["name"]
                    let originText: String = row["origin"]
                    guard let origin = StoredSchedule.Origin(rawValue: originText) else {
                        throw StateStoreError(
                            .corrupt, path: path, "schedule \(name): unknown origin \"\(originText)\". \(StateStoreError.leftAloneAdvice(path))")
                    }
                    let lastTick: Double? = row["last_tick"]
                    return StoredSchedule(
                        name: name, definition: row["definition"], origin: origin, paused: row["paused"],
                        createdAt: Date(timeIntervalSince1970: row["created_at"]), lastTick: lastTick.map(Date.init(timeIntervalSince1970:)))
                }
            }
        } catch let error as StateStoreError {
            throw error
        } catch {
            throw StateStoreError.opening(path, error)
        }
    }

    /// The queues paused (by PAUSE) and not resumed since, by name.
    public func pausedQueues() throws(StateStoreError) -> [String] {
        do {
            return try database.read { db in try String.fetchAll(db, sql: "SELECT name FROM queue_state WHERE paused ORDER BY name") }
        } catch {
            throw StateStoreError.opening(path, error)
        }
    }

    /// The id of the task submitted last, kept when retention or CLEAN has removed its row; nil
    /// before the first task.
    public func latestID() throws(StateStoreError) -> TaskID? {
        let text: String?
        do {
            text = try database.read { db in try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'latest_id'") }
        } catch {
            throw StateStoreError.opening(path, error)
        }
        guard let text else { return nil }
        guard let id = TaskID(text) else {
            throw StateStoreError(.corrupt, path: path, "latest_id \"\(text)\" is not a task id. \(StateStoreError.leftAloneAdvice(path))")
        }
        return id
    }

    /// The highest sequence number stored, 0 when empty: the next task gets one more.
    public func lastSequence() throws(StateStoreError) -> Int64 {
        do {
            return try database.read { db in try Int64.fetchOne(db, sql: "SELECT MAX(sequence) FROM task") } ?? 0
        } catch {
            throw StateStoreError.opening(path, error)
        }
    }

    /// Writes `changes` as one transaction, durable when this returns.
    public func apply(_ changes: [StateChange]) throws(StateStoreError) {
        guard !changes.isEmpty else { return }
        do {
            try database.write { db in
                for change in changes { try apply(change, in: db) }
                // Once per transaction: the newest insert is the latest task, even after its row goes.
                let latest = changes.lazy.reversed().compactMap { change -> StoredTask? in
                    switch change {
                    case .insert(let task): task
                    case .fired(_, let tasks, _): tasks.last
                    default: nil
                    }
                }.first
                if let latest {
                    try db.cachedStatement(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES ('latest_id', ?)")
                        .execute(arguments: [latest.id.description])
                }
            }
        } catch {
            throw StateStoreError(.writeFailed, path: path, "write failed: \(error)")
        }
    }

    /// Closes the file. Later calls fail.
    public func close() {
        try? database.close()
    }

    // MARK: - Schema

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1 task table") { db in
            try db.execute(
                sql: """
                    CREATE TABLE task (
                        sequence INTEGER PRIMARY KEY,
                        id TEXT NOT NULL UNIQUE,
                        name TEXT NOT NULL,
                        words TEXT NOT NULL,
                        args TEXT NOT NULL,
                        kwargs TEXT NOT NULL,
                        state TEXT NOT NULL,
                        submitted_at REAL NOT NULL,
                        started_at REAL,
                        ended_at REAL,
                        result TEXT,
                        error TEXT
                    ) STRICT;
                    CREATE INDEX task_by_end ON task(ended_at) WHERE ended_at IS NOT NULL;
                    """)
        }
        // Facts about the tables that outlive their rows: `latest_id`.
        migrator.registerMigration("v2 meta table") { db in
            try db.execute(
                sql: """
                    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
                    INSERT INTO meta (key, value) SELECT 'latest_id', id FROM task ORDER BY sequence DESC LIMIT 1;
                    """)
        }
        // Tasks submitted to run later: when they may start. A row stays `scheduled` until it starts.
        migrator.registerMigration("v3 run_at") { db in
            try db.execute(sql: "ALTER TABLE task ADD COLUMN run_at REAL")
        }
        // Recurring schedules, and which firing made a task: one task per (schedule, tick).
        migrator.registerMigration("v4 schedules") { db in
            try db.execute(
                sql: """
                    CREATE TABLE schedule (
                        name TEXT PRIMARY KEY,
                        definition TEXT NOT NULL,
                        origin TEXT NOT NULL,
                        paused INTEGER NOT NULL,
                        created_at REAL NOT NULL,
                        last_tick REAL
                    ) STRICT;
                    ALTER TABLE task ADD COLUMN schedule TEXT;
                    ALTER TABLE task ADD COLUMN tick REAL;
                    CREATE UNIQUE INDEX task_by_tick ON task(schedule, tick) WHERE schedule IS NOT NULL;
                    """)
        }
        // Failure and flow: the submission's options (queue, priority, after, attempts, timeout,
        // unique key) as words, the attempts started and the failed ones, paused queues.
        migrator.registerMigration("v5 flow") { db in
            try db.execute(
                sql: """
                    ALTER TABLE task ADD COLUMN options TEXT;
                    ALTER TABLE task ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE task ADD COLUMN attempts TEXT;
                    CREATE TABLE queue_state (name TEXT PRIMARY KEY, paused INTEGER NOT NULL) STRICT;
                    """)
        }
        return migrator
    }

    /// SQLite's quick integrity check: a damaged file is reported at start, not found later.
    private func check() throws {
        let problems = try database.read { db in try String.fetchAll(db, sql: "PRAGMA quick_check(5)") }
        guard problems == ["ok"] else {
            throw StateStoreError(
                .corrupt, path: path,
                "fails SQLite's integrity check (\(problems.joined(separator: "; "))). \(StateStoreError.leftAloneAdvice(path))")
        }
    }

    private func decode(_ row: Row) throws -> StoredTask {
        let sequence: Int64 = row["sequence"]
        func corrupt(_ what: String) -> StateStoreError {
            StateStoreError(.corrupt, path: path, "row \(sequence): \(what). \(StateStoreError.leftAloneAdvice(path))")
        }
        let idText: String = row["id"]
        guard let id = TaskID(idText) else { throw corrupt("\"\(idText)\" is not a task id") }
        let stateText: String = row["state"]
        guard let state = FutureState(rawValue: stateText) else { throw corrupt("unknown state \"\(stateText)\"") }
        let runAt: Double? = row["run_at"]
        let started: Double? = row["started_at"]
        let ended: Double? = row["ended_at"]
        guard state.isDone == (ended != nil) else { throw corrupt("state \(state) with ended_at \(ended.map { "\($0)" } ?? "null")") }
        return StoredTask(
            sequence: sequence, id: id, name: row["name"], words: row["words"], args: row["args"], kwargs: row["kwargs"],
            state: state, submittedAt: Date(timeIntervalSince1970: row["submitted_at"]),
            runAt: runAt.map(Date.init(timeIntervalSince1970:)), schedule: row["schedule"],
            tick: (row["tick"] as Double?).map(Date.init(timeIntervalSince1970:)), startedAt: started.map(Date.init(timeIntervalSince1970:)),
            endedAt: ended.map(Date.init(timeIntervalSince1970:)),
            result: row["result"], error: row["error"], options: row["options"], attempt: row["attempt"], attempts: row["attempts"])
    }

    // One prepared statement per kind of change, run once per row within the commit's single
    // transaction: a reset, a bind and a step. Multi-row statements (INSERT … VALUES (…), (…) and
    // UPDATE … FROM (VALUES …), 128 rows each) were tried and measured no cheaper: pybgd's CPU for
    // 100,000 pipelined durable submissions, three interleaved rounds, 4.98/4.59/4.85 s against
    // 4.60/4.01/4.11 s per row (BENCHMARKS.md, issue 15's run B).

    private func insert(_ task: StoredTask, in db: Database) throws {
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO task (sequence, id, name, words, args, kwargs, state, submitted_at, run_at, schedule, tick, started_at, ended_at,
                    result, error, options, attempt, attempts)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        // Concrete DatabaseValues: an array literal of existentials cost a metadata lookup per value.
        var values: [DatabaseValue] = []
        values.reserveCapacity(18)
        values.append(task.sequence.databaseValue)
        values.append(task.id.description.databaseValue)
        values.append(task.name.databaseValue)
        values.append(task.words.databaseValue)
        values.append(task.args.databaseValue)
        values.append(task.kwargs.databaseValue)
        values.append(task.state.rawValue.databaseValue)
        values.append(task.submittedAt.timeIntervalSince1970.databaseValue)
        values.append(task.runAt?.timeIntervalSince1970.databaseValue ?? .null)
        values.append(task.schedule?.databaseValue ?? .null)
        values.append(task.tick?.timeIntervalSince1970.databaseValue ?? .null)
        values.append(task.startedAt?.timeIntervalSince1970.databaseValue ?? .null)
        values.append(task.endedAt?.timeIntervalSince1970.databaseValue ?? .null)
        values.append(task.result?.databaseValue ?? .null)
        values.append(task.error?.databaseValue ?? .null)
        values.append(task.options?.databaseValue ?? .null)
        values.append(task.attempt.databaseValue)
        values.append(task.attempts?.databaseValue ?? .null)
        try statement.execute(arguments: StatementArguments(values))
    }

    private func recordEnd(
        _ id: TaskID, state: FutureState, startedAt: Date?, endedAt: Date, result: String?, error: String?,
        in db: Database
    ) throws {
        let statement = try db.cachedStatement(
            sql: """
                UPDATE task SET state = ?, started_at = COALESCE(?, started_at), ended_at = ?, result = ?, error = ?
                WHERE id = ?
                """)
        var values: [DatabaseValue] = []
        values.reserveCapacity(6)
        values.append(state.rawValue.databaseValue)
        values.append(startedAt?.timeIntervalSince1970.databaseValue ?? .null)
        values.append(endedAt.timeIntervalSince1970.databaseValue)
        values.append(result?.databaseValue ?? .null)
        values.append(error?.databaseValue ?? .null)
        values.append(id.description.databaseValue)
        try statement.execute(arguments: StatementArguments(values))
    }

    private func apply(_ change: StateChange, in db: Database) throws {
        switch change {
        case .insert(let task):
            try insert(task, in: db)
        case .started(let id, let at, let attempt):
            try db.cachedStatement(sql: "UPDATE task SET state = 'running', started_at = ?, attempt = ? WHERE id = ?")
                .execute(arguments: [at.timeIntervalSince1970, attempt, id.description])
        case .retrying(let id, let attempt, let attempts, let runAt):
            try db.cachedStatement(
                sql: "UPDATE task SET state = 'retrying', started_at = NULL, attempt = ?, attempts = ?, run_at = ? WHERE id = ?"
            )
            .execute(arguments: [attempt, attempts, runAt.timeIntervalSince1970, id.description])
        case .released(let id):
            try db.cachedStatement(sql: "UPDATE task SET state = 'pending' WHERE id = ? AND state = 'waiting'")
                .execute(arguments: [id.description])
        case .removeTasks(let ids):
            let statement = try db.cachedStatement(sql: "DELETE FROM task WHERE id = ? AND ended_at IS NOT NULL")
            for id in ids { try statement.execute(arguments: [id.description]) }
        case .pauseQueue(let name, let paused):
            try db.execute(
                sql: "INSERT INTO queue_state (name, paused) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET paused = excluded.paused",
                arguments: [name, paused])
        case .ended(let id, let state, let startedAt, let endedAt, let result, let error):
            try recordEnd(id, state: state, startedAt: startedAt, endedAt: endedAt, result: result, error: error, in: db)
        case .removeEnded(let cutoff?):
            try db.execute(
                sql: "DELETE FROM task WHERE ended_at IS NOT NULL AND ended_at < ?",
                arguments: [cutoff.timeIntervalSince1970])
        case .removeEnded(nil):
            try db.execute(sql: "DELETE FROM task WHERE ended_at IS NOT NULL")
        case .fired(let schedule, let tasks, let through):
            for task in tasks { try insert(task, in: db) }
            try db.execute(sql: "UPDATE schedule SET last_tick = ? WHERE name = ?", arguments: [through.timeIntervalSince1970, schedule])
        case .saveSchedule(let schedule, let keepProgress):
            try db.execute(
                sql: """
                    INSERT INTO schedule (name, definition, origin, paused, created_at, last_tick) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT(name) DO UPDATE SET definition = excluded.definition, origin = excluded.origin,
                        paused = excluded.paused, created_at = excluded.created_at,
                        last_tick = CASE WHEN ? THEN last_tick ELSE excluded.last_tick END
                    """,
                arguments: [
                    schedule.name, schedule.definition, schedule.origin.rawValue, schedule.paused,
                    schedule.createdAt.timeIntervalSince1970, schedule.lastTick?.timeIntervalSince1970, keepProgress,
                ])
        case .pauseSchedule(let name, let paused, let resumedAt):
            try db.execute(
                sql: "UPDATE schedule SET paused = ?, last_tick = COALESCE(?, last_tick) WHERE name = ?",
                arguments: [paused, resumedAt?.timeIntervalSince1970, name])
        case .removeSchedule(let name):
            try db.execute(sql: "DELETE FROM schedule WHERE name = ?", arguments: [name])
        case .keepEnded(let keep) where keep <= 0:
            try db.execute(sql: "DELETE FROM task WHERE ended_at IS NOT NULL")
        case .keepEnded(let keep):
            // Strictly older than the keep-th newest end: ties with it stay.
            try db.execute(
                sql: """
                    DELETE FROM task WHERE ended_at IS NOT NULL AND ended_at < (
                        SELECT ended_at FROM task WHERE ended_at IS NOT NULL ORDER BY ended_at DESC LIMIT 1 OFFSET ?)
                    """, arguments: [keep - 1])
        }
    }

    private static func createDirectory(containing path: String, mode: mode_t, groupID: UInt32?) throws(StateStoreError) {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return }
        let directory = String(path[..<slash])
        guard !FileManager.default.fileExists(atPath: directory) else { return }
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true,
                attributes: [.posixPermissions: Int(mode)])
        } catch {
            throw StateStoreError(.unreadable, path: path, "cannot create its directory \(directory): \(error)")
        }
        if let groupID, chown(directory, uid_t.max, groupID) != 0 {
            throw StateStoreError(.unreadable, path: path, "cannot give group \(groupID) its directory \(directory): \(String(cString: strerror(errno)))")
        }
    }

    /// Creates the database file with `mode` (not left to the umask) if it does not exist yet.
    private static func createFile(_ path: String, mode: mode_t, groupID: UInt32?) throws(StateStoreError) {
        let descriptor = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        if descriptor < 0 {
            guard errno == EEXIST else {
                throw StateStoreError(.unreadable, path: path, "cannot be created: \(String(cString: strerror(errno)))")
            }
            return
        }
        defer { Glibc.close(descriptor) }
        if fchmod(descriptor, mode) != 0 || (groupID.map { fchown(descriptor, uid_t.max, $0) != 0 } ?? false) {
            let reason = String(cString: strerror(errno))
            unlink(path)
            throw StateStoreError(.unreadable, path: path, "cannot be given mode \(String(mode, radix: 8)): \(reason)")
        }
    }

    /// A warning when the database or its log can be read by users who are neither its owner nor
    /// in its group.
    private static func readableByOthers(_ path: String) -> String? {
        let open = [path, path + "-wal", path + "-shm", path + "-journal"].filter { file in
            var status = stat()
            return stat(file, &status) == 0 && status.st_mode & 0o007 != 0
        }
        guard !open.isEmpty else { return nil }
        return
            "the state store can be read by any user of this machine, yet it holds every task's arguments and output: chmod o-rwx \(open.joined(separator: " ")) (a new store is created 0600)"
    }
}

extension StateStoreError {
    /// An error from opening or checking the file, by SQLite's result code.
    static func opening(_ path: String, _ error: any Error) -> StateStoreError {
        guard let error = error as? DatabaseError else {
            return StateStoreError(.unreadable, path: path, "cannot be opened: \(error)")
        }
        let reason = error.message ?? "\(error.resultCode)"
        switch error.resultCode {
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return StateStoreError(
                .locked, path: path,
                "is in use by another process (\(reason)); is another pybgd running with this state file?")
        case .SQLITE_NOTADB, .SQLITE_CORRUPT:
            return StateStoreError(.corrupt, path: path, "is not a usable pybgd state store (\(reason)). \(leftAloneAdvice(path))")
        case .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_READONLY, .SQLITE_AUTH:
            return StateStoreError(
                .unreadable, path: path,
                "cannot be opened for reading and writing (\(reason)); check its owner and permissions and those of its directory")
        default:
            return StateStoreError(.unreadable, path: path, "cannot be opened (\(reason))")
        }
    }
}
