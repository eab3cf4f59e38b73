/// One queue of a scheduler as it is now: its limit, whether it is paused, and its tasks.
///
/// ```swift
/// for queue in scheduler.queues { print("\(queue.name): \(queue.running)/\(queue.maxRunning ?? scheduler.maxWorkers)") }
/// ```
public struct QueueStatistics: Sendable, Hashable {
    public let name: String
    /// At most this many of its tasks run at once; nil: as many as there are workers.
    public let maxRunning: Int?
    /// A paused queue starts nothing; its pending tasks wait, its running ones finish.
    public let paused: Bool
    /// Waiting for a worker.
    public let pending: Int
    public let running: Int
}
