/// CANCEL or KILL of a task this host does not hold, asked of a store several hosts share
/// (``TaskPersistence/requestStop(_:_:completion:)``).
enum RemoteStop: Sendable, Equatable {
    /// Only a task that has not started (or waits between attempts).
    case cancel
    /// A task not running is cancelled; a running one is asked to stop. `by`: who asked.
    case kill(by: String)

    /// What the store did.
    enum Outcome: Sendable, Equatable {
        /// No host held it: it ended `cancelled` now.
        case cancelled
        /// Host `host` holds it and was asked to stop it.
        case asked(host: String)
        /// Nothing: it has ended, or (CANCEL) it runs.
        case refused
    }
}
