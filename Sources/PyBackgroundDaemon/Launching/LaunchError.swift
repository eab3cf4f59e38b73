import PyBackground

/// Why the launcher did not accept a submission, or could not clean: a stable code and a message
/// for people. The daemon maps it to the protocol's error codes; the launcher knows nothing of
/// the wire.
struct LaunchError: Error, Hashable, Sendable, CustomStringConvertible {
    enum Code: String, Sendable, Hashable {
        /// The daemon is shutting down and accepts no new tasks.
        case shuttingDown = "shutting-down"
        /// The state store could not write: nothing was accepted or removed.
        case storeFailed = "store-failed"
        /// The submission named a queue that is not configured.
        case unknownQueue = "unknown-queue"
        /// The submission named a task to run after that the tables do not hold.
        case unknownID = "unknown-id"
        /// The scheduler refused the task for a reason the checks before it should have caught.
        case `internal` = "internal"
    }

    let code: Code
    let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    var description: String { "\(code.rawValue): \(message)" }

    static let shuttingDown = LaunchError(.shuttingDown, "the daemon is shutting down and accepts no new tasks")

    /// The scheduler's refusal of a task, as the client is told it.
    init(_ error: SchedulerError) {
        switch error.code {
        case .shutDown: self = .shuttingDown
        case .unknownQueue: self.init(.unknownQueue, error.message)
        case .unknownDependency: self.init(.unknownID, error.message)
        default: self.init(.internal, error.message)
        }
    }
}
