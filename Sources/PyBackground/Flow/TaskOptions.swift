/// What a task asks for beyond running once, in the default queue, as soon as a worker is free: a
/// timeout for each attempt, a retry policy, a queue and a priority, tasks to wait for. The
/// defaults ask for nothing, and a task that asks for nothing pays nothing for them.
///
/// ```swift
/// let options = TaskOptions(timeout: .seconds(30), retry: RetryPolicy(maxAttempts: 3))
/// try scheduler.start({ try fetch(url) }, options: options)
/// ```
public struct TaskOptions: Sendable {
    /// Each attempt is asked to stop (``StopRequest/Reason/timedOut(after:)``) once it has run
    /// this long, and then ends `failed` with ``SchedulerError/Code/timedOut``; nil: no limit.
    public var timeout: Duration?
    /// Whether and when a failed attempt is followed by another; nil: a failure is final.
    public var retry: RetryPolicy?
    /// The queue it waits in (``Scheduler/configureQueue(_:maxRunning:)``); nil: `default`.
    public var queue: String?
    /// Higher runs first within the queue; equal priorities run in submission order.
    public var priority: Int
    /// Tasks that must all finish before it starts (it waits ``FutureState/waiting``); if one
    /// fails or is cancelled, it is cancelled with ``SchedulerError/Code/dependencyFailed``.
    public var after: [TaskID]
    /// A key no other task of the scheduler holds while it is scheduled, waiting, pending,
    /// running or retrying: a second start with it throws ``SchedulerError/Code/duplicateKey``
    /// (``Scheduler/task(uniqueKey:)`` gives the holder). Free again once the holder ends.
    public var uniqueKey: String?
    /// The task this one runs again, when a host starts an ended task anew: a label for the tables.
    public var retryOf: TaskID?

    public init(
        timeout: Duration? = nil, retry: RetryPolicy? = nil, queue: String? = nil, priority: Int = 0, after: [TaskID] = [],
        uniqueKey: String? = nil, retryOf: TaskID? = nil
    ) {
        self.timeout = timeout
        self.retry = retry
        self.queue = queue
        self.priority = priority
        self.after = after
        self.uniqueKey = uniqueKey
        self.retryOf = retryOf
    }

    /// True when nothing is asked for.
    public var isDefault: Bool {
        timeout == nil && retry == nil && (queue == nil || queue == ReadyQueues.defaultName) && priority == 0 && after.isEmpty
            && uniqueKey == nil && retryOf == nil
    }
}

/// Holds a record's options once, by reference: a record (copied into every future and view)
/// stays one word larger, not the size of every option.
final class TaskOptionsBox: Sendable {
    let options: TaskOptions
    init(_ options: TaskOptions) { self.options = options }
}
