#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What was started: the seed's `Task(fn, args, kwargs)` namedtuple, with the function named
/// rather than held (a Swift closure cannot be printed or compared).
///
/// ```swift
/// let id = try scheduler.start(now, args: 2.0, name: "now")
/// let record = scheduler.tasks[id]!
/// record.name      // "now"
/// record.args      // [2.0]
/// ```
public struct TaskRecord: Sendable, CustomStringConvertible {
    /// The task id, as `start` returned it.
    public let id: TaskID
    /// The name given at start, or `"task"` when none was given.
    public let name: String
    /// The positional arguments, in order, as passed.
    public let args: [any Sendable]
    /// The keyword arguments, in order: the stored properties of the `kwargs` value, or those
    /// given to ``Scheduler/start(name:args:kwargs:_:)``.
    public let kwargs: [KeywordArgument]
    /// When `start` accepted the task.
    public let submittedAt: Date
    /// When it may start, if it was submitted to run later; nil: as soon as a worker is free.
    public var runAt: Date? { runAtSeconds.isNaN ? nil : Date(timeIntervalSinceReferenceDate: runAtSeconds) }
    /// The recurring schedule whose firing started it, if one did.
    public let schedule: String?
    /// The tick (planned firing time) it was started for, when its schedule's host records it.
    public var tick: Date? { tickSeconds.isNaN ? nil : Date(timeIntervalSinceReferenceDate: tickSeconds) }
    // Optional times kept as seconds, NaN for none: 8 bytes each instead of a padded 16, so that
    // a record stays small enough to be copied inline (measured: a few bytes more made every
    // copy an outlined value-witness call, three per task, and cost the core's start path).
    private let runAtSeconds: Double
    private let tickSeconds: Double
    /// Its timeout, retry policy, queue, priority, prerequisites and unique key: one word, empty
    /// for most tasks.
    public let options: TaskOptions

    /// Whether it asks for anything beyond the defaults.
    package var hasOptions: Bool { !options.isDefault }

    /// A record as the scheduler makes one at `start`.
    public init(
        id: TaskID, name: String, args: [any Sendable], kwargs: [KeywordArgument], submittedAt: Date, runAt: Date? = nil,
        schedule: String? = nil, tick: Date? = nil, options: TaskOptions = TaskOptions()
    ) {
        self.id = id
        self.name = name
        self.args = args
        self.kwargs = kwargs
        self.submittedAt = submittedAt
        self.runAtSeconds = runAt?.timeIntervalSinceReferenceDate ?? .nan
        self.schedule = schedule
        self.tickSeconds = tick?.timeIntervalSinceReferenceDate ?? .nan
        self.options = options
    }

    /// `name(arg, …, key=value, …)`, the way a person would write the call.
    public var description: String {
        let rendered = args.map { "\($0)" } + kwargs.map { "\($0.name)=\($0.value)" }
        return "\(name)(\(rendered.joined(separator: ", ")))"
    }
}

/// One keyword argument of a task: a name and its value.
///
/// ```swift
/// try scheduler.start(name: "now", args: [], kwargs: [KeywordArgument(name: "cost", value: 2.0)]) { _ in … }
/// scheduler.tasks[id]!.description   // now(cost=2.0)
/// ```
public struct KeywordArgument: Sendable {
    /// The keyword.
    public let name: String
    /// The value passed for it.
    public let value: any Sendable

    /// A keyword argument: `KeywordArgument(name: "cost", value: 2.0)` records `cost=2.0`.
    public init(name: String, value: any Sendable) {
        self.name = name
        self.value = value
    }

    /// The stored properties of `options`, in declaration order: how a Swift `kwargs` struct is recorded.
    static func fields(of options: any Sendable) -> [KeywordArgument] {
        Mirror(reflecting: options).children.enumerated().map { index, child in
            // The options type is Sendable, so the compiler has checked that each stored property is;
            // Mirror only hands them back as `Any`. `Sendable` is a marker protocol with no witness
            // table, so `Any` and `any Sendable` share one layout and the cast is a re-labelling.
            let value = withUnsafePointer(to: child.value) { pointer in
                pointer.withMemoryRebound(to: (any Sendable).self, capacity: 1) { $0.pointee }
            }
            return KeywordArgument(name: child.label ?? "_\(index)", value: value)
        }
    }
}
