/// A scheduler whose `start` returns at once: the tasks run on its worker threads while the
/// caller goes on (the seed's `BackgroundScheduler`).
///
/// ```swift
/// let scheduler = BackgroundScheduler(maxWorkers: 4)
/// try scheduler.start(now, args: 1.0, name: "now")
/// try scheduler.start(utcnow, args: 1.0, name: "utcnow")
/// scheduler.shutdown(wait: true)
/// ```
public final class BackgroundScheduler: Scheduler, @unchecked Sendable {
    /// - Parameters:
    ///   - maxWorkers: worker threads; nil (the default) uses ``Scheduler/activeProcessorCount``.
    ///   - keepFinished: how many ended tasks the tables keep; nil (the default) keeps all. With a
    ///     bound, a finished task's closure is released by the next use of the tables (a start, a
    ///     lookup) or by `shutdown(wait: true)`, not by its worker.
    ///   - clock: the time of day for recurring schedules; a ``ManualClock`` in tests.
    public init(maxWorkers: Int? = nil, keepFinished: Int? = nil, clock: any SchedulerClock = SystemClock()) {
        super.init(maxWorkers: maxWorkers, keepFinished: keepFinished, clock: clock)
    }

    /// A scheduler whose every task start and end is told to `observer` (a host's events, metrics).
    package init(maxWorkers: Int?, keepFinished: Int?, clock: any SchedulerClock = SystemClock(), observer: any TaskObserver) {
        super.init(maxWorkers: maxWorkers, keepFinished: keepFinished, clock: clock, observer: observer)
    }
}
