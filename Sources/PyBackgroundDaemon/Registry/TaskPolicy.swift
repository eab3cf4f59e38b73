import PyBackground
import PyBackgroundProtocol

/// What a registered task asks for unless a submission says otherwise: its queue, priority,
/// timeout and retry policy (config: a command task's `queue`, `priority`, `timeout_seconds` and
/// `retry`). Each submission option (``SubmitOptions``) overrides its counterpart.
///
/// ```swift
/// var policy = TaskPolicy()
/// policy.retry = RetrySettings(maxAttempts: 5, backoff: .exponential(base: .seconds(1), maxDelay: .seconds(60)))
/// RegisteredTask(name: "fetch", description: "…", policy: policy) { context, arguments in … }
/// ```
public struct TaskPolicy: Sendable, Hashable {
    /// Nil: `default`.
    public var queue: String?
    public var priority = 0
    /// Each attempt is stopped after this long; nil: no limit.
    public var timeoutSeconds: Double?
    /// Nil: a failure is final.
    public var retry: RetrySettings?

    public init(queue: String? = nil, priority: Int = 0, timeoutSeconds: Double? = nil, retry: RetrySettings? = nil) {
        self.queue = queue
        self.priority = priority
        self.timeoutSeconds = timeoutSeconds
        self.retry = retry
    }

    /// Whether it asks for nothing (the default queue, priority 0, no timeout, no retries): then a
    /// submission without options runs with none, checked without building any.
    public var isDefault: Bool { queue == nil && priority == 0 && timeoutSeconds == nil && retry == nil }

    /// The options a submission of the task runs with: this policy, overridden by the
    /// submission's options; `after` are the prerequisites' ids, resolved from its prefixes.
    func options(for submission: SubmitOptions, after: [TaskID]) -> TaskOptions {
        var retry = self.retry
        if let attempts = submission.attempts {
            retry = RetrySettings(
                maxAttempts: attempts, backoff: retry?.backoff ?? .default, codes: retry?.codes, exitStatuses: retry?.exitStatuses)
        }
        let timeout = submission.timeout ?? timeoutSeconds.map { Duration.nanoseconds(Int64(($0 * 1e9).rounded())) }
        return TaskOptions(
            timeout: timeout, retry: retry?.policy, queue: submission.queue ?? queue, priority: submission.priority ?? priority,
            after: after, uniqueKey: submission.unique, retryOf: submission.retryOf.flatMap(TaskID.init))
    }
}

/// When a failed task of the daemon runs again: at most `maxAttempts` attempts, `backoff` between
/// them, for the failure codes in `codes` (nil: every failure; a kill, a cancel or the shutdown
/// never retries) and, for a command that exited non-zero, only the statuses in `exitStatuses`
/// (nil: any). `interrupted` in `codes` (or nil) also retries a task pybgd died while running.
public struct RetrySettings: Sendable, Hashable {
    public var maxAttempts: Int
    public var backoff: Backoff
    public var codes: Set<String>?
    /// The exit statuses of a command that retry (`EX_TEMPFAIL`, 75, say); nil: every non-zero one.
    public var exitStatuses: Set<Int>?

    public init(maxAttempts: Int, backoff: Backoff = .default, codes: Set<String>? = nil, exitStatuses: Set<Int>? = nil) {
        self.maxAttempts = maxAttempts
        self.backoff = backoff
        self.codes = codes
        self.exitStatuses = exitStatuses
    }

    /// Failures that never retry, whatever `codes` says: someone or something stopped the task on purpose.
    static let neverRetried: Set<String> = [
        TaskFailure.Code.cancelledAtShutdown.rawValue, SchedulerError.Code.killed.rawValue, SchedulerError.Code.cancelled.rawValue,
        SchedulerError.Code.shutDown.rawValue,
    ]

    /// Whether a failure with this code is retried.
    func retries(code: String) -> Bool {
        !Self.neverRetried.contains(code) && (codes?.contains(code) ?? true)
    }

    /// Whether `error` is retried: its code, and a command's exit status.
    func retries(_ error: any Error) -> Bool {
        let code = Self.code(of: error)
        guard retries(code: code) else { return false }
        guard let exitStatuses, code == TaskFailure.Code.exitStatus.rawValue else { return true }
        guard let failure = error as? TaskFailure, case .object(let detail)? = failure.detail, case .int(let status)? = detail["exit_status"]
        else { return false }
        return exitStatuses.contains(status)
    }

    /// The core's policy for these settings.
    var policy: RetryPolicy {
        let settings = self
        return RetryPolicy(maxAttempts: maxAttempts, backoff: backoff) { error in settings.retries(error) }
    }

    /// The code a failure is stored and reported with (``ErrorPayload``'s).
    static func code(of error: any Error) -> String {
        ErrorPayload(error).code
    }
}
