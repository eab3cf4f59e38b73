/// `EVENT` → one state change of one task: `{"event","id","task","queue","at"}`, with `attempt` for
/// started, retrying and failed attempts, `retry_at` for retrying, `run_at` for scheduled, `error`
/// (its code) for failed and cancelled, `duration_seconds` for an end after a start. A `lagged`
/// event has only `event`, `at` and `missed`: that many events were dropped for this reader.
public struct TaskEventPayload: Codable, Hashable, Sendable {
    public var event: TaskEventKind
    public var id: String?
    public var task: String?
    public var queue: String?
    public var at: Double
    public var attempt: Int?
    public var retryAt: Double?
    public var runAt: Double?
    public var error: String?
    public var durationSeconds: Double?
    public var missed: Int?

    public init(
        event: TaskEventKind, id: String? = nil, task: String? = nil, queue: String? = nil, at: Double, attempt: Int? = nil,
        retryAt: Double? = nil, runAt: Double? = nil, error: String? = nil, durationSeconds: Double? = nil, missed: Int? = nil
    ) {
        self.event = event
        self.id = id
        self.task = task
        self.queue = queue
        self.at = at
        self.attempt = attempt
        self.retryAt = retryAt
        self.runAt = runAt
        self.error = error
        self.durationSeconds = durationSeconds
        self.missed = missed
    }

    enum CodingKeys: String, CodingKey {
        case event, id, task, queue, at, attempt, error, missed
        case retryAt = "retry_at"
        case runAt = "run_at"
        case durationSeconds = "duration_seconds"
    }
}
