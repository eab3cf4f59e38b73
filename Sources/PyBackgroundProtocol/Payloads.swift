/// The JSON payloads of `OK` replies, one type per verb. Field names are snake_case on the wire;
/// times are seconds since the Unix epoch (UTC), durations are seconds. See PROTOCOL.md.

/// `PING` → `{"pong":true,"pid":…,"version":"…"}`
public struct PingPayload: Codable, Hashable, Sendable {
    public var pong: Bool
    public var pid: Int32
    public var version: String

    public init(pid: Int32, version: String) {
        self.pong = true
        self.pid = pid
        self.version = version
    }
}

/// `SUBMIT` → `{"id":"…","task":"now"}`, and `"run_at":…` for a task that waits for its time.
public struct SubmitPayload: Codable, Hashable, Sendable {
    public var id: String
    public var task: String
    /// When a scheduled task may start (absent: at once).
    public var runAt: Double?

    public init(id: String, task: String, runAt: Double? = nil) {
        self.id = id
        self.task = task
        self.runAt = runAt
    }

    enum CodingKeys: String, CodingKey {
        case id, task
        case runAt = "run_at"
    }

    /// The reply's JSON, written directly: SUBMIT is the hot path, and neither field can hold a
    /// character JSON must escape (a hex id, a registered name) — anything else goes through the encoder.
    public var json: String {
        guard runAt == nil, Self.isPlain(id), Self.isPlain(task) else { return ProtocolJSON.encode(self) }
        return #"{"id":""# + id + #"","task":""# + task + #""}"#
    }

    /// Reads back exactly what ``json`` writes directly, without JSONDecoder, whose first use was nearly
    /// half of `pybgctl submit`'s start-up. nil for any other text, which the caller then decodes
    /// with ``ProtocolJSON``.
    public init?(plainJSON text: String) {
        let bytes = Array(text.utf8)
        let prefix = Array(#"{"id":""#.utf8)
        let middle = Array(#"","task":""#.utf8)
        let suffix = Array(#""}"#.utf8)
        guard bytes.count >= prefix.count + middle.count + suffix.count, bytes.starts(with: prefix),
            bytes.suffix(suffix.count).elementsEqual(suffix)
        else { return nil }
        let body = bytes[prefix.count..<bytes.count - suffix.count]
        // A plain id holds no quote, so the first quote must open `","task":"`.
        guard let quote = body.firstIndex(of: UInt8(ascii: "\"")), body[quote...].starts(with: middle) else { return nil }
        let id = String(decoding: body[..<quote], as: UTF8.self)
        let task = String(decoding: body[(quote + middle.count)...], as: UTF8.self)
        guard Self.isPlain(id), Self.isPlain(task) else { return nil }
        self.init(id: id, task: task)
    }

    /// Printable ASCII without a quote or backslash: JSON holds it as it is.
    private static func isPlain(_ text: String) -> Bool {
        text.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
    }
}

/// `STATUS`
public struct StatusPayload: Codable, Hashable, Sendable {
    public var version: String
    public var pid: Int32
    public var stopped: Bool
    public var shuttingDown: Bool
    public var latestID: String?
    public var workers: Int
    public var submitted: Int
    /// Waiting for the time they were submitted to run at.
    public var scheduled: Int
    public var pending: Int
    public var running: Int
    public var finished: Int
    public var failed: Int
    public var cancelled: Int
    /// Restored as running when the daemon had died: not run again.
    public var interrupted: Int
    /// Tasks kept in the tables now (retention may have dropped older ones).
    public var retained: Int
    public var connections: Int
    public var uptimeSeconds: Double
    /// The state store's file, or `memory` when the tables are not kept across restarts.
    public var stateStore: String
    /// The next firings of the recurring schedules, soonest first (at most five).
    public var nextFirings: [UpcomingFiring]

    /// A schedule's next firing.
    public struct UpcomingFiring: Codable, Hashable, Sendable {
        public var schedule: String
        public var at: Double

        public init(schedule: String, at: Double) {
            self.schedule = schedule
            self.at = at
        }
    }

    public init(
        version: String, pid: Int32, stopped: Bool, shuttingDown: Bool, latestID: String?, workers: Int,
        submitted: Int, scheduled: Int, pending: Int, running: Int, finished: Int, failed: Int, cancelled: Int,
        interrupted: Int, retained: Int, connections: Int, uptimeSeconds: Double, stateStore: String, nextFirings: [UpcomingFiring] = []
    ) {
        self.version = version
        self.pid = pid
        self.stopped = stopped
        self.shuttingDown = shuttingDown
        self.latestID = latestID
        self.workers = workers
        self.submitted = submitted
        self.scheduled = scheduled
        self.pending = pending
        self.running = running
        self.finished = finished
        self.failed = failed
        self.cancelled = cancelled
        self.interrupted = interrupted
        self.retained = retained
        self.connections = connections
        self.uptimeSeconds = uptimeSeconds
        self.stateStore = stateStore
        self.nextFirings = nextFirings
    }

    enum CodingKeys: String, CodingKey {
        case version, pid, stopped, workers, submitted, scheduled, pending, running, finished, failed, cancelled, interrupted
        case retained, connections
        case stateStore = "state_store"
        case nextFirings = "next_firings"
        case shuttingDown = "shutting_down"
        case latestID = "latest_id"
        case uptimeSeconds = "uptime_seconds"
    }
}

/// A row of the task table: what was submitted.
public struct TaskPayload: Codable, Hashable, Sendable {
    public var id: String
    public var name: String
    public var args: [JSONValue]
    public var kwargs: [String: JSONValue]
    public var submittedAt: Double
    /// When it may start, for a task submitted to run later (absent: as soon as a worker is free).
    public var runAt: Double?
    /// The schedule whose firing made it, and the tick it is for (absent for a plain submission).
    public var schedule: String?
    public var tick: Double?

    public init(
        id: String, name: String, args: [JSONValue], kwargs: [String: JSONValue], submittedAt: Double, runAt: Double? = nil,
        schedule: String? = nil, tick: Double? = nil
    ) {
        self.id = id
        self.name = name
        self.args = args
        self.kwargs = kwargs
        self.submittedAt = submittedAt
        self.runAt = runAt
        self.schedule = schedule
        self.tick = tick
    }

    enum CodingKeys: String, CodingKey {
        case id, name, args, kwargs, schedule, tick
        case submittedAt = "submitted_at"
        case runAt = "run_at"
    }
}

/// An error kept as a failed or cancelled task's outcome.
public struct ErrorPayload: Codable, Hashable, Sendable {
    public var code: String
    public var message: String
    /// More about it: a command's exit status, signal and output.
    public var detail: JSONValue?

    public init(code: String, message: String, detail: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.detail = detail
    }
}

/// A row of the future table, and the reply to `RESULT`, `WAIT` and `CANCEL`.
public struct FuturePayload: Codable, Hashable, Sendable {
    public var id: String
    public var name: String
    public var args: [JSONValue]
    public var kwargs: [String: JSONValue]
    /// scheduled, pending, running, finished, failed, cancelled or interrupted.
    public var state: String
    public var submittedAt: Double
    /// When it may start, for a task submitted to run later.
    public var runAt: Double?
    /// The schedule whose firing made it, and the tick it is for.
    public var schedule: String?
    public var tick: Double?
    public var startedAt: Double?
    public var endedAt: Double?
    /// Running time: end − start once ended, now − start while running.
    public var durationSeconds: Double?
    /// The value of a finished task.
    public var result: JSONValue?
    /// The error of a failed or cancelled task.
    public var error: ErrorPayload?

    public init(
        id: String, name: String, args: [JSONValue], kwargs: [String: JSONValue], state: String,
        submittedAt: Double, runAt: Double? = nil, schedule: String? = nil, tick: Double? = nil, startedAt: Double?, endedAt: Double?,
        durationSeconds: Double?, result: JSONValue?, error: ErrorPayload?
    ) {
        self.id = id
        self.name = name
        self.args = args
        self.kwargs = kwargs
        self.state = state
        self.submittedAt = submittedAt
        self.runAt = runAt
        self.schedule = schedule
        self.tick = tick
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.durationSeconds = durationSeconds
        self.result = result
        self.error = error
    }

    enum CodingKeys: String, CodingKey {
        case id, name, args, kwargs, state, result, error, schedule, tick
        case submittedAt = "submitted_at"
        case runAt = "run_at"
        case startedAt = "started_at"
        case endedAt = "ended_at"
        case durationSeconds = "duration_seconds"
    }
}

/// `TASKS` → `{"tasks":[…],"total":N}`: the most recent rows, oldest first; `total` counts them all.
public struct TasksPayload: Codable, Hashable, Sendable {
    public var tasks: [TaskPayload]
    public var total: Int

    public init(tasks: [TaskPayload], total: Int) {
        self.tasks = tasks
        self.total = total
    }

    /// The reply's JSON for these rows, encoded one row at a time (``ProtocolJSON/encodeArray(_:)``):
    /// the same text as the encoder gives for the whole payload.
    public static func json(tasks: some Sequence<TaskPayload>, total: Int) -> String {
        #"{"tasks":"# + ProtocolJSON.encodeArray(tasks) + #","total":"# + String(total) + "}"
    }
}

/// `FUTURES` → `{"futures":[…],"total":N}`
public struct FuturesPayload: Codable, Hashable, Sendable {
    public var futures: [FuturePayload]
    public var total: Int

    public init(futures: [FuturePayload], total: Int) {
        self.futures = futures
        self.total = total
    }

    /// The reply's JSON for these rows, encoded one row at a time (``ProtocolJSON/encodeArray(_:)``):
    /// the same text as the encoder gives for the whole payload.
    public static func json(futures: some Sequence<FuturePayload>, total: Int) -> String {
        #"{"futures":"# + ProtocolJSON.encodeArray(futures) + #","total":"# + String(total) + "}"
    }
}

/// `LATEST` → `{"latest_id":"…"}` (null before the first task)
public struct LatestPayload: Codable, Hashable, Sendable {
    public var latestID: String?

    public init(latestID: String?) { self.latestID = latestID }

    enum CodingKeys: String, CodingKey { case latestID = "latest_id" }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(latestID, forKey: .latestID)  // null, not absent
    }
}

/// One parameter of a registered task.
public struct ParameterPayload: Codable, Hashable, Sendable {
    public var name: String
    /// int, double, string or bool.
    public var type: String
    public var required: Bool
    public var `default`: JSONValue?
    public var description: String?

    public init(name: String, type: String, required: Bool, default: JSONValue?, description: String?) {
        self.name = name
        self.type = type
        self.required = required
        self.default = `default`
        self.description = description
    }
}

/// One registered task.
public struct RegisteredTaskPayload: Codable, Hashable, Sendable {
    public var name: String
    /// builtin, command, or custom (registered through the Swift API).
    public var kind: String
    public var description: String
    public var parameters: [ParameterPayload]
    /// Re-run after a restart when the daemon died while it ran; otherwise it ends `interrupted`.
    public var retryIfInterrupted: Bool

    public init(
        name: String, kind: String, description: String, parameters: [ParameterPayload],
        retryIfInterrupted: Bool = false
    ) {
        self.name = name
        self.kind = kind
        self.description = description
        self.parameters = parameters
        self.retryIfInterrupted = retryIfInterrupted
    }

    enum CodingKeys: String, CodingKey {
        case name, kind, description, parameters
        case retryIfInterrupted = "retry_if_interrupted"
    }
}

/// `LIST` → `{"tasks":[…]}`, sorted by name.
public struct ListPayload: Codable, Hashable, Sendable {
    public var tasks: [RegisteredTaskPayload]

    public init(tasks: [RegisteredTaskPayload]) { self.tasks = tasks }
}

/// `SHUTDOWN` → what the shutdown did by the time of the reply.
public struct ShutdownPayload: Codable, Hashable, Sendable {
    public var stopping: Bool
    /// True when the reply waited for every task to end.
    public var waited: Bool
    public var pending: Int
    public var running: Int

    public init(waited: Bool, pending: Int, running: Int) {
        self.stopping = true
        self.waited = waited
        self.pending = pending
        self.running = running
    }
}

/// `CLEAN` → `{"removed":N}`: ended tasks removed from the tables (and the state store).
public struct CleanPayload: Codable, Hashable, Sendable {
    public var removed: Int

    public init(removed: Int) { self.removed = removed }
}

/// `HELP` → `{"verbs":["PING", …]}`
public struct HelpPayload: Codable, Hashable, Sendable {
    public var verbs: [String]

    public init(verbs: [String] = Request.synopsis) { self.verbs = verbs }
}
