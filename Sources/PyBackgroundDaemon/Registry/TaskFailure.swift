import PyBackgroundProtocol

/// Why a task could not be accepted or did not succeed: a stable ``Code``, a message, and, for a
/// command that failed, its output. The code and message reach the client as they are.
///
/// ```swift
/// throw TaskFailure(.badArgument, "cost must be a number, got \"x\"")
/// throw TaskFailure(.exitStatus, "exited with status 2", detail: output)
/// throw TaskFailure("quota-exceeded", "the account's quota is used up")   // a code of your own
/// ```
public struct TaskFailure: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure: stable, safe to match on, stored with the task and shown to clients.
    /// A task of your own may use codes of its own (a string literal is a code).
    public struct Code: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
        /// The code as clients and the state store see it.
        public let rawValue: String

        public init(_ rawValue: String) { self.rawValue = rawValue }
        public init(stringLiteral value: String) { self.init(value) }
        /// The protocol's code of the same name.
        public init(_ code: ErrorCode) { self.init(code.rawValue) }

        public var description: String { rawValue }

        /// A task argument is missing, unknown, or not of its parameter's type.
        public static let badArgument = Code(.badArgument)
        /// A command exited with a non-zero status.
        public static let exitStatus: Code = "exit-status"
        /// A command was killed by a signal.
        public static let signalled: Code = "signalled"
        /// A command outlived its timeout and was stopped.
        public static let timedOut: Code = "timed-out"
        /// A task was stopped because the daemon's shutdown timeout ran out.
        public static let cancelledAtShutdown: Code = "cancelled-at-shutdown"
        /// A command could not be started (not found, not executable, bad working directory).
        public static let spawnFailed: Code = "spawn-failed"
        /// A task recovered after a restart could not be bound to its task again (gone or changed).
        public static let notRestartable: Code = "not-restartable"
        /// Not run here: this host's claim on it ran out and another host took it over.
        public static let superseded: Code = "superseded"
    }

    /// What failed, for programs.
    public let code: Code
    /// One line for people.
    public let message: String
    /// More about a failure (a command's exit status and output), kept in the future table.
    public let detail: JSONValue?

    /// A failure with its code, message and, optionally, more detail.
    public init(_ code: Code, _ message: String, detail: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.detail = detail
    }

    /// A failure with one of the protocol's codes.
    public init(_ code: ErrorCode, _ message: String) {
        self.init(Code(code), message)
    }

    public var description: String { "\(code): \(message)" }
}
