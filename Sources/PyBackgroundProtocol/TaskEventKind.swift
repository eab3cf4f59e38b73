/// What happened to a task, as the event stream (`EVENTS`) reports it; `lagged` is the stream's
/// own: events were left out because the reader fell behind.
public enum TaskEventKind: String, Codable, Hashable, Sendable, CaseIterable {
    /// Accepted (and with a state store, on disk).
    case submitted
    /// Accepted to run at a later time (`in=`, `at=`, a schedule's task is `submitted`).
    case scheduled
    /// A worker began an attempt.
    case started
    /// An attempt failed; the next one is due at `retry_at`.
    case retrying
    case finished
    case failed
    case cancelled
    /// The daemon died while it ran, and it is not run again.
    case interrupted
    /// Not a task's: `missed` events were dropped for this reader.
    case lagged

    /// The kinds a reader may filter on (all but `lagged`, which is always sent).
    public static let taskKinds = allCases.filter { $0 != .lagged }
}
