/// What a task asks for beyond running once, in the default queue, as soon as a worker is free: a
/// timeout for each attempt, a retry policy, a queue and a priority, tasks to wait for, a unique
/// key. The defaults ask for nothing, and a task that asks for nothing pays nothing for them: the
/// options sit behind one reference, nil when every one is the default.
///
/// ```swift
/// let options = TaskOptions(timeout: .seconds(30), retry: RetryPolicy(maxAttempts: 3))
/// try scheduler.start({ try fetch(url) }, options: options)
/// ```
public struct TaskOptions: Sendable {
    private struct Fields: Sendable {
        var timeout: Duration?
        var retry: RetryPolicy?
        var queue: String?
        var priority = 0
        var after: [TaskID] = []
        var uniqueKey: String?
        var retryOf: TaskID?

        var isDefault: Bool {
            timeout == nil && retry == nil && (queue == nil || queue == ReadyQueues.defaultName) && priority == 0 && after.isEmpty
                && uniqueKey == nil && retryOf == nil
        }
    }

    private final class Box: Sendable {
        let fields: Fields
        init(_ fields: Fields) { self.fields = fields }
    }

    private var box: Box?

    private var fields: Fields {
        get { box?.fields ?? Fields() }
        set { box = newValue.isDefault ? nil : Box(newValue) }
    }

    /// Each attempt is asked to stop (``StopRequest/Reason/timedOut(after:)``) once it has run
    /// this long, and then ends `failed` with ``SchedulerError/Code/timedOut``; nil: no limit.
    public var timeout: Duration? {
        get { box?.fields.timeout }
        set { fields.timeout = newValue }
    }
    /// Whether and when a failed attempt is followed by another; nil: a failure is final.
    public var retry: RetryPolicy? {
        get { box?.fields.retry }
        set { fields.retry = newValue }
    }
    /// The queue it waits in (``Scheduler/configureQueue(_:maxRunning:)``); nil: `default`.
    public var queue: String? {
        get { box?.fields.queue }
        set { fields.queue = newValue }
    }
    /// Higher runs first within the queue; equal priorities run in submission order.
    public var priority: Int {
        get { box?.fields.priority ?? 0 }
        set { fields.priority = newValue }
    }
    /// Tasks that must all finish before it starts (it waits ``FutureState/waiting``); if one
    /// fails or is cancelled, it is cancelled with ``SchedulerError/Code/dependencyFailed``.
    public var after: [TaskID] {
        get { box?.fields.after ?? [] }
        set { fields.after = newValue }
    }
    /// A key no other task of the scheduler holds while it is scheduled, waiting, pending,
    /// running or retrying: a second start with it throws ``SchedulerError/Code/duplicateKey``
    /// (``Scheduler/task(uniqueKey:)`` gives the holder). Free again once the holder ends.
    public var uniqueKey: String? {
        get { box?.fields.uniqueKey }
        set { fields.uniqueKey = newValue }
    }
    /// The task this one runs again, when a host starts an ended task anew: a label for the tables.
    public var retryOf: TaskID? {
        get { box?.fields.retryOf }
        set { fields.retryOf = newValue }
    }

    /// No options: the task runs once, in the default queue, at priority 0.
    public init() {
        box = nil
    }

    public init(
        timeout: Duration? = nil, retry: RetryPolicy? = nil, queue: String? = nil, priority: Int = 0, after: [TaskID] = [],
        uniqueKey: String? = nil, retryOf: TaskID? = nil
    ) {
        let fields = Fields(
            timeout: timeout, retry: retry, queue: queue, priority: priority, after: after, uniqueKey: uniqueKey, retryOf: retryOf)
        box = fields.isDefault ? nil : Box(fields)
    }

    /// True when nothing is asked for.
    public var isDefault: Bool { box == nil }
}
