import PyBackground

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One row of the durable task table: a task as it was last recorded.
///
/// The JSON columns are the host's own encoding, kept as text: the store checks rows, not payloads.
public struct StoredTask: Sendable, Hashable {
    /// Submission order, across every life of the store.
    public var sequence: Int64
    public var id: TaskID
    /// The registered task's name.
    public var name: String
    /// The arguments as the client typed them (JSON array of strings): what a re-run binds again.
    public var words: String
    /// The bound positional arguments (JSON array), as the tables show them.
    public var args: String
    /// The bound keyword arguments (JSON object).
    public var kwargs: String
    public var state: FutureState
    public var submittedAt: Date
    /// When a task submitted to run later may start; nil: at once.
    public var runAt: Date?
    /// The schedule whose firing made it, and the tick (planned time) it is for: unique together.
    public var schedule: String?
    public var tick: Date?
    public var startedAt: Date?
    public var endedAt: Date?
    /// The value (JSON) of a finished task.
    public var result: String?
    /// The error (JSON) of a failed, cancelled or interrupted task.
    public var error: String?
    /// The submission's flow options as option words (JSON array of strings: `queue=io`, …); nil: none.
    public var options: String?
    /// Attempts started so far (recorded at each start of a task that may run more than once).
    public var attempt: Int
    /// Earlier attempts (JSON array), for a task that ran more than once; nil: none.
    public var attempts: String?

    /// A row as given.
    public init(
        sequence: Int64, id: TaskID, name: String, words: String, args: String, kwargs: String,
        state: FutureState, submittedAt: Date, runAt: Date? = nil, schedule: String? = nil, tick: Date? = nil,
        startedAt: Date? = nil, endedAt: Date? = nil, result: String? = nil, error: String? = nil, options: String? = nil,
        attempt: Int = 0, attempts: String? = nil
    ) {
        self.sequence = sequence
        self.id = id
        self.name = name
        self.words = words
        self.args = args
        self.kwargs = kwargs
        self.state = state
        self.submittedAt = submittedAt
        self.runAt = runAt
        self.schedule = schedule
        self.tick = tick
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.result = result
        self.error = error
        self.options = options
        self.attempt = attempt
        self.attempts = attempts
    }
}

/// What a batch written to the store can say. A batch is one transaction: all of it or none.
public enum StateChange: Sendable, Hashable {
    /// A newly accepted task (pending, or scheduled with its `runAt`).
    case insert(StoredTask)
    /// A task began on a worker; `attempt` is 1 for its first run.
    case started(TaskID, at: Date, attempt: Int)
    /// An attempt failed and the task waits `retrying` until `runAt`; `attempts` (JSON array) is
    /// its history of failed attempts, this one included.
    case retrying(TaskID, attempt: Int, attempts: String, runAt: Date)
    /// A waiting task's prerequisites all finished: it is pending (or scheduled) now.
    case released(TaskID)
    /// Chosen ended tasks are removed.
    case removeTasks([TaskID])
    /// A queue paused or resumed.
    case pauseQueue(String, paused: Bool)
    /// A task reached a final state (`state.isDone`).
    case ended(TaskID, state: FutureState, startedAt: Date?, endedAt: Date, result: String?, error: String?)
    /// Ended tasks are removed: all of them, or those that ended before the date.
    case removeEnded(endedBefore: Date?)
    /// Keeps the `keep` most recently ended tasks, removes the older ones.
    case keepEnded(Int)
    /// A schedule's firing: its tasks (each with the schedule and its tick) inserted, and the
    /// schedule's `lastTick` moved to `through`, in one transaction, so a crash at any instant
    /// leaves either both or neither: every tick gets exactly one task.
    case fired(schedule: String, tasks: [StoredTask], through: Date)
    /// A schedule stored or replaced (keeping its `lastTick` when `keepProgress` and it existed).
    case saveSchedule(StoredSchedule, keepProgress: Bool)
    /// A schedule paused or resumed; a resume also moves its `lastTick` to the moment of resuming
    /// (ticks missed while paused are not made up).
    case pauseSchedule(String, paused: Bool, resumedAt: Date?)
    /// A schedule removed; the tasks it made stay.
    case removeSchedule(String)
}
