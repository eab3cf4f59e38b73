/// What a task asks for beyond running once, as soon as a worker is free: a timeout for each
/// attempt and a retry policy. The defaults ask for nothing, and a task that asks for nothing
/// pays nothing for them.
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

    public init(timeout: Duration? = nil, retry: RetryPolicy? = nil) {
        self.timeout = timeout
        self.retry = retry
    }

    /// True when nothing is asked for.
    public var isDefault: Bool { timeout == nil && retry == nil }
}

/// Holds a record's options once, by reference: a record (copied into every future and view)
/// stays one word larger, not the size of every option.
final class TaskOptionsBox: Sendable {
    let options: TaskOptions
    init(_ options: TaskOptions) { self.options = options }
}
