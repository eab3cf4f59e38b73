/// The stable machine code of an `ERR` reply: what went wrong, independent of the wording.
/// Clients match on it (and `pybgctl` maps it to its exit status); new codes may be added.
///
/// ```swift
/// if case .error(let code, _) = response, code == .unknownTask { … }
/// ```
public struct ErrorCode: Hashable, Sendable, CustomStringConvertible, Codable {
    /// The code as it appears on the wire.
    public let rawValue: String

    /// A code by its text (unknown codes from newer daemons are kept as they are).
    public init(_ rawValue: String) { self.rawValue = rawValue }

    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    /// The line could not be read as a request: bad quoting, a missing or extra argument to a verb.
    public static let badRequest = ErrorCode("bad-request")
    /// The first word is not a verb of the protocol.
    public static let unknownVerb = ErrorCode("unknown-verb")
    /// SUBMIT named a task that is not registered.
    public static let unknownTask = ErrorCode("unknown-task")
    /// A task argument is missing, unknown, or not of its parameter's type.
    public static let badArgument = ErrorCode("bad-argument")
    /// No task has this id (or id prefix).
    public static let unknownID = ErrorCode("unknown-id")
    /// The id prefix matches more than one task.
    public static let ambiguousID = ErrorCode("ambiguous-id")
    /// The request line is longer than the server's limit; the connection is closed after this reply.
    public static let lineTooLong = ErrorCode("line-too-long")
    /// The request line is not valid UTF-8.
    public static let invalidUTF8 = ErrorCode("invalid-utf8")
    /// The daemon is shutting down and accepts no new tasks.
    public static let shuttingDown = ErrorCode("shutting-down")
    /// The queue of pending tasks is at its configured limit.
    public static let queueFull = ErrorCode("queue-full")
    /// The server holds its configured maximum of connections; this one is closed after the reply.
    public static let tooManyConnections = ErrorCode("too-many-connections")
    /// WAIT ran out of time before the task ended.
    public static let timedOut = ErrorCode("timed-out")
    /// CANCEL named a task that is running or has ended.
    public static let notPending = ErrorCode("not-pending")
    /// KILL named a task that has already ended.
    public static let alreadyEnded = ErrorCode("already-ended")
    /// KILL asked a running task to stop and it did not end within the kill grace: it still runs.
    public static let stillRunning = ErrorCode("still-running")
    /// RETRY or REMOVE named a task that has not ended.
    public static let notEnded = ErrorCode("not-ended")
    /// A submission or PAUSE/RESUME named a queue that is not configured.
    public static let unknownQueue = ErrorCode("unknown-queue")
    /// No request came within the server's idle timeout; the connection is closed after this reply.
    public static let idleTimeout = ErrorCode("idle-timeout")
    /// The peer's uid or group is not allowed to use the socket.
    public static let permissionDenied = ErrorCode("permission-denied")
    /// The state store could not record the request (disk full, I/O error): nothing was accepted.
    public static let storeFailed = ErrorCode("store-failed")
    /// A fault inside the daemon; the message says what.
    public static let `internal` = ErrorCode("internal")
}

/// A request line that could not be parsed: the code and message of the `ERR` reply it gets.
public struct ProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The code of the ERR reply.
    public let code: ErrorCode
    /// The message of the ERR reply.
    public let message: String

    /// An error with its code and message.
    public init(_ code: ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
