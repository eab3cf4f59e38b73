/// One recurring schedule: `SCHEDULE ADD|SHOW|PAUSE|RESUME|REMOVE` reply with it, `SCHEDULE LIST`
/// with all of them (``SchedulesPayload``).
public struct SchedulePayload: Codable, Hashable, Sendable {
    public var name: String
    /// `every 5m` or `cron 30 2 * * * (Europe/Berlin)`.
    public var trigger: String
    /// The definition as `SCHEDULE ADD` words after the name (options, task, arguments).
    public var definition: [String]
    public var task: String
    public var misfire: String
    public var overlap: String
    /// `config` (declared in the config file) or `runtime` (added by a client).
    public var origin: String
    public var paused: Bool
    /// The next tick (nil while paused, or if the expression never matches again).
    public var nextRun: Double?
    /// The latest tick consumed (run or let pass).
    public var lastTick: Double?
    /// The last task a firing made, and its state (nil once retention dropped it).
    public var lastTask: String?
    public var lastState: String?
    /// Tasks made, and ticks let pass, since the daemon started.
    public var runs: Int
    public var skipped: Int
    /// Why its last firing made no task (its write failed), if it did not.
    public var error: String?

    public init(
        name: String, trigger: String, definition: [String], task: String, misfire: String, overlap: String, origin: String,
        paused: Bool, nextRun: Double?, lastTick: Double?, lastTask: String?, lastState: String?, runs: Int, skipped: Int,
        error: String? = nil
    ) {
        self.name = name
        self.trigger = trigger
        self.definition = definition
        self.task = task
        self.misfire = misfire
        self.overlap = overlap
        self.origin = origin
        self.paused = paused
        self.nextRun = nextRun
        self.lastTick = lastTick
        self.lastTask = lastTask
        self.lastState = lastState
        self.runs = runs
        self.skipped = skipped
        self.error = error
    }

    enum CodingKeys: String, CodingKey {
        case name, trigger, definition, task, misfire, overlap, origin, paused, runs, skipped, error
        case nextRun = "next_run"
        case lastTick = "last_tick"
        case lastTask = "last_task"
        case lastState = "last_state"
    }
}

/// `SCHEDULE LIST` → `{"schedules":[…]}`, by name.
public struct SchedulesPayload: Codable, Hashable, Sendable {
    public var schedules: [SchedulePayload]

    public init(schedules: [SchedulePayload]) { self.schedules = schedules }
}
