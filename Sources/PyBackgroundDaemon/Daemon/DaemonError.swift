/// Why the daemon cannot start or go on, with a stable code for logs and exit statuses.
public struct DaemonError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure; stable, safe to match on.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// Another daemon answers on the socket path.
        public static let alreadyRunning = Code("already-running")
        /// The socket path cannot be used (not a socket, no permission, too long, bind failed).
        public static let socketUnavailable = Code("socket-unavailable")
        /// The config file is missing or wrong.
        public static let configuration = Code("configuration")
        /// The state store cannot be opened, is damaged, or is held by another process.
        public static let stateStore = Code("state-store")
        /// `pybgd-exec`, which runs command tasks, is not installed beside pybgd.
        public static let helperMissing = Code("helper-missing")
    }

    /// What failed, for programs.
    public let code: Code
    /// What failed and what to do, for people.
    public let message: String

    /// An error with its code and message.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
