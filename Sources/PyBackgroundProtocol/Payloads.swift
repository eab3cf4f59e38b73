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
    /// True when the submission's unique key is held by a live task: `id` is that task's, and no
    /// new task was made. Absent otherwise.
    public var existing: Bool?
    /// The existing task's state, with `existing`.
    public var state: String?

    public init(id: String, task: String, runAt: Double? = nil, existing: Bool? = nil, state: String? = nil) {
        self.id = id
        self.task = task
        self.runAt = runAt
        self.existing = existing
        self.state = state
    }

    enum CodingKeys: String, CodingKey {
        case id, task, existing, state
        case runAt = "run_at"
    }

    /// The reply's JSON, written directly: SUBMIT is the hot path, and neither field can hold a
    /// character JSON must escape (a hex id, a registered name) — anything else goes through the encoder.
    public var json: String {
        guard runAt == nil, existing == nil, state == nil, Self.isPlain(id), Self.isPlain(task) else { return ProtocolJSON.encode(self) }
        // Appended to one string sized beforehand: each `+` made an intermediate string.
        var json = #"{"id":""#
        json.reserveCapacity(id.utf8.count + task.utf8.count + 20)
        json.append(id)
        json.append(#"","task":""#)
        json.append(task)
        json.append(#""}"#)
        return json
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
        var text = text
        // Over the string's contiguous bytes: the generic walk of its UTF-8 view was 2% of the
        // event loop's time under pipelined SUBMIT (perf, issue 20).
        return text.withUTF8 { bytes in
            for byte in bytes where byte < 0x20 || byte >= 0x7F || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                return false
            }
            return true
        }
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
    /// Waiting for the tasks they run after.
    public var waiting: Int
    public var pending: Int
    public var running: Int
    /// Waiting for their next attempt after a failure.
    public var retrying: Int
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
        submitted: Int, scheduled: Int, waiting: Int = 0, pending: Int, running: Int, retrying: Int = 0, finished: Int, failed: Int,
        cancelled: Int, interrupted: Int, retained: Int, connections: Int, uptimeSeconds: Double, stateStore: String,
        nextFirings: [UpcomingFiring] = [], queues: [QueuePayload] = []
    ) {
        self.version = version
        self.pid = pid
        self.stopped = stopped
        self.shuttingDown = shuttingDown
        self.latestID = latestID
        self.workers = workers
        self.submitted = submitted
        self.scheduled = scheduled
        self.waiting = waiting
        self.pending = pending
        self.running = running
        self.retrying = retrying
        self.finished = finished
        self.failed = failed
        self.cancelled = cancelled
        self.interrupted = interrupted
        self.retained = retained
        self.connections = connections
        self.uptimeSeconds = uptimeSeconds
        self.stateStore = stateStore
        self.nextFirings = nextFirings
        self.queues = queues
    }

    /// The queues, `default` first.
    public var queues: [QueuePayload]
    /// With a store several hosts share: the cluster as this host last read it (absent otherwise).
    public var cluster: ClusterPayload?

    enum CodingKeys: String, CodingKey {
        case version, pid, stopped, workers, submitted, scheduled, waiting, pending, running, retrying, finished, failed, cancelled
        case interrupted, retained, connections, queues, cluster
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
    /// What it asked for beyond the defaults (absent: the default queue, priority 0, no retries…).
    public var flow: FlowPayload?

    public init(
        id: String, name: String, args: [JSONValue], kwargs: [String: JSONValue], submittedAt: Double, runAt: Double? = nil,
        schedule: String? = nil, tick: Double? = nil, flow: FlowPayload? = nil
    ) {
        self.id = id
        self.name = name
        self.args = args
        self.kwargs = kwargs
        self.submittedAt = submittedAt
        self.runAt = runAt
        self.schedule = schedule
        self.tick = tick
        self.flow = flow
    }

    /// What a future's row says of what was started (a row read from a store several hosts share).
    public init(_ future: FuturePayload) {
        self.init(
            id: future.id, name: future.name, args: future.args, kwargs: future.kwargs, submittedAt: future.submittedAt, runAt: future.runAt,
            schedule: future.schedule, tick: future.tick, flow: future.flow)
    }

    enum CodingKeys: String, CodingKey {
        case id, name, args, kwargs, schedule, tick
        case submittedAt = "submitted_at"
        case runAt = "run_at"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        name = try container.decode(String.self, forKey: .name)
        args = try container.decode([JSONValue].self, forKey: .args)
        kwargs = try container.decode([String: JSONValue].self, forKey: .kwargs)
        submittedAt = try container.decode(Double.self, forKey: .submittedAt)
        runAt = try container.decodeIfPresent(Double.self, forKey: .runAt)
        schedule = try container.decodeIfPresent(String.self, forKey: .schedule)
        tick = try container.decodeIfPresent(Double.self, forKey: .tick)
        flow = try FlowPayload(from: decoder)
        if flow == FlowPayload() { flow = nil }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(name, forKey: .name)
        try container.encode(args, forKey: .args)
        try container.encode(kwargs, forKey: .kwargs)
        try container.encode(submittedAt, forKey: .submittedAt)
        try container.encodeIfPresent(runAt, forKey: .runAt)
        try container.encodeIfPresent(schedule, forKey: .schedule)
        try container.encodeIfPresent(tick, forKey: .tick)
        try flow?.encode(to: encoder)
    }
}

/// A task's flow options, flattened into its TASKS and FUTURES rows; each field is absent when it
/// is the default (the default queue, priority 0, one attempt, no timeout, no key).
public struct FlowPayload: Codable, Hashable, Sendable {
    public var queue: String?
    public var priority: Int?
    /// The ids of the tasks it runs after.
    public var after: [String]?
    public var maxAttempts: Int?
    public var timeoutSeconds: Double?
    public var unique: String?
    /// The ended task it runs again.
    public var retryOf: String?

    public init(
        queue: String? = nil, priority: Int? = nil, after: [String]? = nil, maxAttempts: Int? = nil, timeoutSeconds: Double? = nil,
        unique: String? = nil, retryOf: String? = nil
    ) {
        self.queue = queue
        self.priority = priority
        self.after = after
        self.maxAttempts = maxAttempts
        self.timeoutSeconds = timeoutSeconds
        self.unique = unique
        self.retryOf = retryOf
    }

    enum CodingKeys: String, CodingKey {
        case queue, priority, after, unique
        case maxAttempts = "max_attempts"
        case timeoutSeconds = "timeout_seconds"
        case retryOf = "retry_of"
    }
}

/// One earlier attempt of a task that ran more than once.
public struct AttemptPayload: Codable, Hashable, Sendable {
    /// 1 for the first.
    public var attempt: Int
    public var startedAt: Double?
    public var endedAt: Double
    public var error: ErrorPayload

    public init(attempt: Int, startedAt: Double?, endedAt: Double, error: ErrorPayload) {
        self.attempt = attempt
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.error = error
    }

    enum CodingKeys: String, CodingKey {
        case attempt, error
        case startedAt = "started_at"
        case endedAt = "ended_at"
    }
}

/// A request to stop a running task (KILL, or its timeout) that it has not yet answered by ending.
public struct StopPayload: Codable, Hashable, Sendable {
    /// `killed` or `timed-out`.
    public var reason: String
    /// Who asked, for a kill.
    public var by: String?
    public var requestedAt: Double

    public init(reason: String, by: String?, requestedAt: Double) {
        self.reason = reason
        self.by = by
        self.requestedAt = requestedAt
    }

    enum CodingKeys: String, CodingKey {
        case reason, by
        case requestedAt = "requested_at"
    }
}

/// One queue: `QUEUES` rows and STATUS's `queues`.
public struct QueuePayload: Codable, Hashable, Sendable {
    public var name: String
    /// At most this many of its tasks run at once.
    public var maxRunning: Int
    public var paused: Bool
    /// Waiting for a worker (not counting those waiting for a time, a retry or other tasks).
    public var pending: Int
    public var running: Int

    public init(name: String, maxRunning: Int, paused: Bool, pending: Int, running: Int) {
        self.name = name
        self.maxRunning = maxRunning
        self.paused = paused
        self.pending = pending
        self.running = running
    }

    enum CodingKeys: String, CodingKey {
        case name, paused, pending, running
        case maxRunning = "max_running"
    }
}

/// `QUEUES` → `{"queues":[…]}`, `default` first.
public struct QueuesPayload: Codable, Hashable, Sendable {
    public var queues: [QueuePayload]

    public init(queues: [QueuePayload]) { self.queues = queues }
}

/// `REMOVE` → `{"removed":["id",…]}`: the tasks removed, oldest first.
public struct RemovePayload: Codable, Hashable, Sendable {
    public var removed: [String]

    public init(removed: [String]) { self.removed = removed }
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

/// A row of the future table, and the reply to `RESULT`, `WAIT`, `CANCEL` and `KILL`.
public struct FuturePayload: Codable, Hashable, Sendable {
    public var id: String
    public var name: String
    public var args: [JSONValue]
    public var kwargs: [String: JSONValue]
    /// scheduled, waiting, pending, running, retrying, finished, failed, cancelled or interrupted.
    public var state: String
    public var submittedAt: Double
    /// When it may start, for a task submitted to run later.
    public var runAt: Double?
    /// The schedule whose firing made it, and the tick it is for.
    public var schedule: String?
    public var tick: Double?
    /// When its latest attempt started.
    public var startedAt: Double?
    public var endedAt: Double?
    /// Running time of the latest attempt: end − start once ended, now − start while running.
    public var durationSeconds: Double?
    /// The value of a finished task.
    public var result: JSONValue?
    /// The error of a failed or cancelled task.
    public var error: ErrorPayload?
    /// Its flow options (absent: the defaults).
    public var flow: FlowPayload?
    /// The attempt running or last run, when more than one ran or may run (absent: one attempt).
    public var attempt: Int?
    /// Earlier attempts, oldest first (absent: none).
    public var attempts: [AttemptPayload]?
    /// When a retrying task runs again.
    public var retryAt: Double?
    /// A stop request the running task has not answered yet.
    public var stop: StopPayload?
    /// The host that claimed it last, for a task read from a store several hosts share (absent:
    /// this daemon's own tables).
    public var host: String?

    public init(
        id: String, name: String, args: [JSONValue], kwargs: [String: JSONValue], state: String,
        submittedAt: Double, runAt: Double? = nil, schedule: String? = nil, tick: Double? = nil, startedAt: Double?, endedAt: Double?,
        durationSeconds: Double?, result: JSONValue?, error: ErrorPayload?, flow: FlowPayload? = nil, attempt: Int? = nil,
        attempts: [AttemptPayload]? = nil, retryAt: Double? = nil, stop: StopPayload? = nil
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
        self.flow = flow
        self.attempt = attempt
        self.attempts = attempts
        self.retryAt = retryAt
        self.stop = stop
    }

    enum CodingKeys: String, CodingKey {
        case id, name, args, kwargs, state, result, error, schedule, tick, attempt, attempts, stop, host
        case submittedAt = "submitted_at"
        case runAt = "run_at"
        case startedAt = "started_at"
        case endedAt = "ended_at"
        case durationSeconds = "duration_seconds"
        case retryAt = "retry_at"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        name = try container.decode(String.self, forKey: .name)
        args = try container.decode([JSONValue].self, forKey: .args)
        kwargs = try container.decode([String: JSONValue].self, forKey: .kwargs)
        state = try container.decode(String.self, forKey: .state)
        submittedAt = try container.decode(Double.self, forKey: .submittedAt)
        runAt = try container.decodeIfPresent(Double.self, forKey: .runAt)
        schedule = try container.decodeIfPresent(String.self, forKey: .schedule)
        tick = try container.decodeIfPresent(Double.self, forKey: .tick)
        startedAt = try container.decodeIfPresent(Double.self, forKey: .startedAt)
        endedAt = try container.decodeIfPresent(Double.self, forKey: .endedAt)
        durationSeconds = try container.decodeIfPresent(Double.self, forKey: .durationSeconds)
        result = try container.decodeIfPresent(JSONValue.self, forKey: .result)
        error = try container.decodeIfPresent(ErrorPayload.self, forKey: .error)
        attempt = try container.decodeIfPresent(Int.self, forKey: .attempt)
        attempts = try container.decodeIfPresent([AttemptPayload].self, forKey: .attempts)
        retryAt = try container.decodeIfPresent(Double.self, forKey: .retryAt)
        stop = try container.decodeIfPresent(StopPayload.self, forKey: .stop)
        host = try container.decodeIfPresent(String.self, forKey: .host)
        flow = try FlowPayload(from: decoder)
        if flow == FlowPayload() { flow = nil }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(name, forKey: .name)
        try container.encode(args, forKey: .args)
        try container.encode(kwargs, forKey: .kwargs)
        try container.encode(state, forKey: .state)
        try container.encode(submittedAt, forKey: .submittedAt)
        try container.encodeIfPresent(runAt, forKey: .runAt)
        try container.encodeIfPresent(schedule, forKey: .schedule)
        try container.encodeIfPresent(tick, forKey: .tick)
        try container.encodeIfPresent(startedAt, forKey: .startedAt)
        try container.encodeIfPresent(endedAt, forKey: .endedAt)
        try container.encodeIfPresent(durationSeconds, forKey: .durationSeconds)
        try container.encodeIfPresent(result, forKey: .result)
        try container.encodeIfPresent(error, forKey: .error)
        try container.encodeIfPresent(attempt, forKey: .attempt)
        try container.encodeIfPresent(attempts, forKey: .attempts)
        try container.encodeIfPresent(retryAt, forKey: .retryAt)
        try container.encodeIfPresent(stop, forKey: .stop)
        try container.encodeIfPresent(host, forKey: .host)
        try flow?.encode(to: encoder)
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

/// `LOG` and `FOLLOW` → `{"ids":[…]}`: the whole ids of the tasks whose output follows.
public struct FollowPayload: Codable, Hashable, Sendable {
    public var ids: [String]

    public init(ids: [String]) { self.ids = ids }
}

/// `EVENTS` → `{"buffer":N,"on_lag":"skip"|"close"}`: how many events wait for a reader that does not
/// read before some are dropped, and what then happens (a `lagged` event and going on, or a
/// `lagged` event and the end of the connection).
public struct EventsPayload: Codable, Hashable, Sendable {
    public var buffer: Int
    public var onLag: String

    public init(buffer: Int, onLag: String) {
        self.buffer = buffer
        self.onLag = onLag
    }

    enum CodingKeys: String, CodingKey {
        case buffer
        case onLag = "on_lag"
    }
}
