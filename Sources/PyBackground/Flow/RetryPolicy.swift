/// When a failed task runs again: at most ``maxAttempts`` attempts in all, ``backoff`` between
/// them, and only for the failures ``shouldRetry`` accepts (by default every failure; a task that
/// was cancelled or killed ends there, it did not fail).
///
/// Between attempts the task is ``FutureState/retrying``, holding no worker, with its next run
/// time in ``Future/retryAt``; its future keeps each earlier attempt (``Future/attempts``).
///
/// ```swift
/// let policy = RetryPolicy(maxAttempts: 5, backoff: .exponential(base: .seconds(1), maxDelay: .seconds(60)))
/// try scheduler.start({ try fetch(url) }, options: TaskOptions(retry: policy))
/// ```
public struct RetryPolicy: Sendable, CustomStringConvertible {
    /// Attempts in all, the first included: 1 never retries.
    public var maxAttempts: Int
    /// The wait before each further attempt.
    public var backoff: Backoff
    /// Whether a failure (what the attempt threw) is worth another attempt.
    public var shouldRetry: @Sendable (any Error) -> Bool

    /// A policy; `maxAttempts` below 1 counts as 1.
    public init(
        maxAttempts: Int, backoff: Backoff = .default,
        shouldRetry: @escaping @Sendable (any Error) -> Bool = { _ in true }
    ) {
        self.maxAttempts = max(1, maxAttempts)
        self.backoff = backoff
        self.shouldRetry = shouldRetry
    }

    /// Whether attempt `attempt` (1 for the first), which failed with `error`, is followed by another.
    public func retries(afterAttempt attempt: Int, failure error: any Error) -> Bool {
        attempt < maxAttempts && shouldRetry(error)
    }

    public var description: String { "at most \(maxAttempts) attempts, \(backoff)" }
}
