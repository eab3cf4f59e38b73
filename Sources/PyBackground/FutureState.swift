/// Where a task is in its life. Only `scheduled` and `pending` can be cancelled; the last four are final.
///
/// ```swift
/// if scheduler.futures[id]?.state == .failed { … }
/// ```
public enum FutureState: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Accepted to run at a later time (its record's `runAt`); then it becomes `pending`.
    case scheduled
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
    /// It was running when its host process stopped, and was not run again: whether it completed
    /// is unknown. Only a host that restores history (``Scheduler/restore(_:state:startedAt:endedAt:outcome:)``)
    /// records it; a scheduler never interrupts a task itself.
    case interrupted

    /// True for `finished`, `failed`, `cancelled` and `interrupted`.
    public var isDone: Bool {
        switch self {
        case .scheduled, .pending, .running: false
        case .finished, .failed, .cancelled, .interrupted: true
        }
    }

    public var description: String { rawValue }
}
