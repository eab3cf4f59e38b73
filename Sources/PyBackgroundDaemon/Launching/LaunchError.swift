/// Why the launcher did not accept a submission, or could not clean: a stable code and a message
/// for people. The daemon maps it to the protocol's error codes; the launcher knows nothing of
/// the wire.
struct LaunchError: Error, Hashable, Sendable, CustomStringConvertible {
    enum Code: String, Sendable, Hashable {
        /// The daemon is shutting down and accepts no new tasks.
        case shuttingDown = "shutting-down"
        /// The state store could not write: nothing was accepted or removed.
        case storeFailed = "store-failed"
    }

    let code: Code
    let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    var description: String { "\(code.rawValue): \(message)" }

    static let shuttingDown = LaunchError(.shuttingDown, "the daemon is shutting down and accepts no new tasks")
}
