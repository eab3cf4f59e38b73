/// What a recurring schedule does when it is due while its previous firing still runs.
public enum OverlapPolicy: String, Hashable, Sendable, CustomStringConvertible {
    /// Start the new firing beside the running one.
    case allow
    /// Do not fire; the firing counts as skipped.
    case skip
    /// Start it when the running one ends (one waits at most; more coalesce into it).
    case queue

    public var description: String { rawValue }
}
