/// How many tasks a scheduler holds in each state, read at one moment.
///
/// ```swift
/// let stats = scheduler.statistics
/// print("\(stats.running) running, \(stats.pending) waiting")
/// ```
public struct SchedulerStatistics: Sendable, Hashable, Codable {
    /// Tasks accepted since the scheduler was made, including any no longer retained, and those
    /// restored into it (``Scheduler/restore(_:state:startedAt:endedAt:outcome:)``).
    public var submitted: Int
    /// Waiting for their time (submitted to run later).
    public var scheduled: Int
    /// Waiting for the tasks they run after.
    public var waiting: Int
    /// Accepted and waiting for a worker.
    public var pending: Int
    /// On a worker now.
    public var running: Int
    /// Waiting for their next attempt after a failure.
    public var retrying: Int
    /// Returned a value.
    public var finished: Int
    /// Threw an error.
    public var failed: Int
    /// Cancelled before they ran, or killed while they ran.
    public var cancelled: Int
    /// Restored as interrupted: running when their host stopped.
    public var interrupted: Int

    /// Counts as given (for tests and hosts that aggregate them).
    public init(
        submitted: Int, scheduled: Int = 0, waiting: Int = 0, pending: Int, running: Int, retrying: Int = 0, finished: Int, failed: Int,
        cancelled: Int, interrupted: Int = 0
    ) {
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
    }
}
