#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension Scheduler {
    /// Starts `fn` as a task that waits in the tables, ``FutureState/scheduled``, holding no
    /// worker, until `date` (the clock's time); then it queues like any other. `cancel()` works
    /// while it waits; a shutdown before its time cancels it. A time already past runs it now.
    ///
    /// ```swift
    /// let id = try scheduler.start(at: tomorrowAtNine, name: "report") { try sendReport() }
    /// scheduler.futures[id]!.state      // .scheduled
    /// ```
    @discardableResult
    public func start<Value: Sendable>(
        at date: Date, name: String = "task", options: TaskOptions = TaskOptions(),
        _ fn: @escaping @Sendable () throws -> Value
    ) throws(SchedulerError) -> TaskID {
        let record = TaskRecord(
            id: newTaskID(), name: name, args: [], kwargs: [], submittedAt: clock.now, runAt: date, options: options)
        return try start(record) { _ in try fn() }.id
    }

    /// Starts `fn` as a task that waits `delay` first (see ``start(at:name:_:)``).
    @discardableResult
    public func start<Value: Sendable>(
        after delay: Duration, name: String = "task", options: TaskOptions = TaskOptions(),
        _ fn: @escaping @Sendable () throws -> Value
    ) throws(SchedulerError) -> TaskID {
        try start(at: clock.now.addingTimeInterval(delay.secondsAsDouble), name: name, options: options, fn)
    }

    /// Runs `fn` as a new task every `period`, the first at `start` (default: one period from
    /// now), until the schedule is cancelled or the scheduler shuts down.
    ///
    /// ```swift
    /// let heartbeat = try scheduler.every(.seconds(30), name: "heartbeat") { try ping() }
    /// ```
    /// - Throws: ``SchedulerError/Code/shutDown`` after ``shutdown(wait:cancelPending:)``.
    @discardableResult
    public func every<Value: Sendable>(
        _ period: Duration, startingAt start: Date? = nil, name: String = "every", misfire: MisfirePolicy = .once,
        overlap: OverlapPolicy = .allow, _ fn: @escaping @Sendable () throws -> Value
    ) throws(SchedulerError) -> RecurringSchedule {
        let first = start ?? clock.now.addingTimeInterval(period.secondsAsDouble)
        return try schedule(.interval(IntervalSchedule(every: period, startingAt: first)), name: name, misfire: misfire, overlap: overlap, fn)
    }

    /// Runs `fn` as a new task whenever `expression` matches the wall time in `timeZone`.
    ///
    /// ```swift
    /// let nightly = try scheduler.cron(CronExpression("30 2 * * *"), timeZone: TimeZone(identifier: "Europe/Berlin")!) {
    ///     try backUp()
    /// }
    /// ```
    /// - Throws: ``SchedulerError/Code/shutDown`` after ``shutdown(wait:cancelPending:)``.
    @discardableResult
    public func cron<Value: Sendable>(
        _ expression: CronExpression, timeZone: TimeZone = .current, name: String = "cron", misfire: MisfirePolicy = .once,
        overlap: OverlapPolicy = .allow, _ fn: @escaping @Sendable () throws -> Value
    ) throws(SchedulerError) -> RecurringSchedule {
        try schedule(.cron(CronSchedule(expression, timeZone: timeZone)), name: name, misfire: misfire, overlap: overlap, fn)
    }

    /// Runs `fn` as a new task at each firing of `trigger`.
    @discardableResult
    public func schedule<Value: Sendable>(
        _ trigger: ScheduleTrigger, name: String, misfire: MisfirePolicy = .once, overlap: OverlapPolicy = .allow,
        _ fn: @escaping @Sendable () throws -> Value
    ) throws(SchedulerError) -> RecurringSchedule {
        guard !pool.isClosed else {
            throw SchedulerError(.shutDown, "the scheduler is shut down and accepts no new schedules")
        }
        let schedule = RecurringSchedule(
            scheduler: self, name: name, trigger: trigger, misfire: misfire, overlap: overlap, action: .body({ try fn() }))
        schedule.arm(after: clock.now.addingTimeInterval(-0.001))
        return schedule
    }

    /// A schedule whose firings go to `handler` instead of starting a task here: for a host that
    /// records each firing durably before it starts the task, and applies ``OverlapPolicy``
    /// itself. The first firing is the first tick after `baseline` (the last tick an earlier life
    /// consumed): ticks between it and now are due at once and follow `misfire`. With a `lead`,
    /// the handler gets each tick that long before it comes.
    package func schedule(
        _ trigger: ScheduleTrigger, name: String, misfire: MisfirePolicy, overlap: OverlapPolicy, after baseline: Date,
        lead: Duration = .zero, firing handler: @escaping @Sendable (RecurringSchedule, ScheduleFiring) -> Void
    ) throws(SchedulerError) -> RecurringSchedule {
        guard !pool.isClosed else {
            throw SchedulerError(.shutDown, "the scheduler is shut down and accepts no new schedules")
        }
        let schedule = RecurringSchedule(scheduler: self, name: name, trigger: trigger, misfire: misfire, overlap: overlap, action: .host(lead: lead, handler))
        schedule.arm(after: baseline)
        return schedule
    }
}
