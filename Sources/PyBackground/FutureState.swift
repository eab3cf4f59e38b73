/// Where a task is in its life. `scheduled`, `waiting`, `pending` and `retrying` can be cancelled, `running` can be
/// killed (``Future/kill(by:)``); the last four are final.
///
/// ```swift
/// if scheduler.futures[id]?.state == .failed { … }
/// ```
public enum FutureState: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Accepted to run at a later time (its record's `runAt`); then it becomes `pending`.
    case scheduled
    /// Accepted and waiting for the tasks it runs after (``TaskOptions/after``) to finish.
    case waiting
    /// Accepted and waiting for a free worker.
    case pending
    /// A worker is running it.
    case running
    /// An attempt failed and its retry policy gives it another: it waits for its ``Future/retryAt``,
    /// holding no worker, then becomes `pending`.
    case retrying
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
        case .scheduled, .waiting, .pending, .running, .retrying: false
        case .finished, .failed, .cancelled, .interrupted: true
        }
    }

    public var description: String { rawValue }
}
