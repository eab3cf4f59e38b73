/// What a recurring schedule does with firings it missed: the process was down, the schedule was
/// paused, or its timer ran late.
public enum MisfirePolicy: Hashable, Sendable, CustomStringConvertible {
    /// Run none of them; go on with the next firing still to come.
    case skip
    /// Run once for all of them (APScheduler's `coalesce`). The default.
    case once
    /// Run each of them, up to `maximum` (the latest ones).
    case all(maximum: Int)

    public var description: String {
        switch self {
        case .skip: "skip"
        case .once: "once"
        case .all(let maximum): "all (at most \(maximum))"
        }
    }

    /// How many runs a schedule makes when it finds `missed` firings past their grace and, with
    /// `onTime`, one just due.
    func runs(missed: Int, onTime: Bool) -> Int {
        let due = missed + (onTime ? 1 : 0)
        switch self {
        case .skip: return onTime ? 1 : 0
        case .once: return min(due, 1)
        case .all(let maximum): return min(due, max(maximum, 1))
        }
    }
}
