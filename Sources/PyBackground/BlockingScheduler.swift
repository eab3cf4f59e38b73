/// A scheduler whose `start` queues the task and then blocks the caller until the scheduler is
/// shut down, by one of its tasks or another thread (the seed's `BlockingScheduler`): the shape
/// of a program whose main thread has nothing else to do.
///
/// ```swift
/// let scheduler = BlockingScheduler()
/// try scheduler.start({ (rounds: Int) in
///     for _ in 0..<rounds where scheduler.sleep(for: .seconds(1)) { print("tick") }
///     scheduler.shutdown(wait: false)
/// }, args: 3)
/// // returns here after three ticks
/// ```
public final class BlockingScheduler: Scheduler, @unchecked Sendable {
    /// - Parameters:
    ///   - maxWorkers: worker threads; nil (the default) uses ``Scheduler/activeProcessorCount``.
    ///   - keepFinished: how many ended tasks the tables keep; nil (the default) keeps all. With a
    ///     bound, a finished task's closure is released by the next use of the tables (a start, a
    ///     lookup) or by `shutdown(wait: true)`, not by its worker.
    ///   - clock: the time of day for recurring schedules; a ``ManualClock`` in tests.
    public init(maxWorkers: Int? = nil, keepFinished: Int? = nil, clock: any SchedulerClock = SystemClock()) {
        super.init(maxWorkers: maxWorkers, keepFinished: keepFinished, clock: clock)
    }

    override var blocksCallerOnStart: Bool { true }
}
