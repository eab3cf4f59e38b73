/// How many tasks a scheduler holds in each state, read at one moment.
///
/// ```swift
/// let stats = scheduler.statistics
/// print("\(stats.running) running, \(stats.pending) waiting")
/// ```
public struct SchedulerStatistics: Sendable, Hashable, Codable {
    /// Tasks accepted since the scheduler was made, including any no longer retained.
    public var submitted: Int
    public var pending: Int
    public var running: Int
    public var finished: Int
    public var failed: Int
    public var cancelled: Int

    public init(submitted: Int, pending: Int, running: Int, finished: Int, failed: Int, cancelled: Int) {
        self.submitted = submitted
        self.pending = pending
        self.running = running
        self.finished = finished
        self.failed = failed
        self.cancelled = cancelled
    }
}
