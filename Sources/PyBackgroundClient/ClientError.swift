/// Why the client could not talk to the daemon, with a stable ``Code`` that `pybgctl` turns into
/// its exit status.
public struct ClientError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure; stable, safe to match on.
    public enum Code: String, Sendable, Hashable {
        /// No daemon listens on the socket (no file, or nobody accepting).
        case notRunning = "not-running"
        /// The socket exists but this user may not connect to it.
        case permissionDenied = "permission-denied"
        /// Connecting failed for another reason (bad path, too long, …).
        case connectFailed = "connect-failed"
        /// The daemon closed the connection before replying.
        case disconnected = "disconnected"
        /// The daemon's reply could not be read.
        case badReply = "bad-reply"
        /// No reply came within the connection's read timeout.
        case timedOut = "timed-out"
    }

    /// What failed, for programs.
    public let code: Code
    /// One line for people, naming the socket path.
    public let message: String
    /// The socket path tried.
    public let path: String

    /// An error about the socket at `path`.
    public init(_ code: Code, _ message: String, path: String) {
        self.code = code
        self.message = message
        self.path = path
    }

    public var description: String { message }
}
