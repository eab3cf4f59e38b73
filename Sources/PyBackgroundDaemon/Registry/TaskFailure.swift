import PyBackgroundProtocol

/// Why a task could not be accepted or did not succeed: a stable code, a message, and, for a
/// command that failed, its output. The code and message reach the client as they are.
///
/// ```swift
/// throw TaskFailure(.badArgument, "cost must be a number, got \"x\"")
/// throw TaskFailure(code: "exit-status", message: "exited with status 2", detail: output)
/// ```
public struct TaskFailure: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable code (`bad-argument`, `exit-status`, …), for programs.
    public let code: String
    /// One line for people.
    public let message: String
    /// More about a failure (a command's exit status and output), kept in the future table.
    public let detail: JSONValue?

    /// A failure with any code.
    public init(code: String, message: String, detail: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.detail = detail
    }

    /// A failure with one of the protocol's codes.
    public init(_ code: ErrorCode, _ message: String) {
        self.init(code: code.rawValue, message: message)
    }

    public var description: String { "\(code): \(message)" }

    /// A command exited with a non-zero status.
    public static let exitStatus = "exit-status"
    /// A command was killed by a signal.
    public static let signalled = "signalled"
    /// A command outlived its timeout and was stopped.
    public static let timedOut = "timed-out"
    /// A task was stopped because the daemon's shutdown timeout ran out.
    public static let cancelledAtShutdown = "cancelled-at-shutdown"
    /// A command could not be started (not found, not executable, bad working directory).
    public static let spawnFailed = "spawn-failed"
}
