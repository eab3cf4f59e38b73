/// Where a task is in its life. Only `pending` can be cancelled; the last three are final.
///
/// ```swift
/// if scheduler.futures[id]?.state == .failed { … }
/// ```
public enum FutureState: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Accepted and waiting for a free worker.
    case pending
    /// A worker is running it.
    case running
    /// It returned a value.
    case finished
    /// It threw; the error is kept as the result.
    case failed
    /// It was cancelled before it ran.
    case cancelled

    /// True for `finished`, `failed` and `cancelled`.
    public var isDone: Bool {
        switch self {
        case .pending, .running: false
        case .finished, .failed, .cancelled: true
        }
    }

    public var description: String { rawValue }
}
