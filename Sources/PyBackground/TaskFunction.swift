/// A function bound to a scheduler: the seed's `@task(scheduler)` decorator.
/// ``start(_:)`` starts it with its own typed arguments; calling it runs it on the caller's thread.
///
/// ```swift
/// let utcnow = scheduler.task("utcnow") { (cost: Double) -> String in
///     Thread.sleep(forTimeInterval: cost)
///     return formatUTC(Date())
/// }
/// let id = try utcnow.start(1)       // scheduler.start(fn, args: 1, name: "utcnow")
/// let direct = try utcnow(0)         // a plain call
/// ```
public struct TaskFunction<each Arg: Sendable, Value: Sendable>: Sendable {
    /// Recorded as the task's name in the task table.
    public let name: String
    /// The scheduler `start` submits to.
    public let scheduler: Scheduler
    private let function: @Sendable (repeat each Arg) throws -> Value

    init(name: String, scheduler: Scheduler, function: @escaping @Sendable (repeat each Arg) throws -> Value) {
        self.name = name
        self.scheduler = scheduler
        self.function = function
    }

    /// Starts the function on its scheduler; returns the task id.
    @discardableResult
    public func start(_ args: repeat each Arg) throws(SchedulerError) -> TaskID {
        try scheduler.start(function, args: repeat each args, name: name)
    }

    /// Runs the function here and now.
    public func callAsFunction(_ args: repeat each Arg) throws -> Value {
        try function(repeat each args)
    }
}
