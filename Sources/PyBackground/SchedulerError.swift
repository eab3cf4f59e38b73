/// An error the library reports: a stable machine-readable ``code`` and a readable ``message``.
///
/// ```swift
/// do { try scheduler.start(work) }
/// catch let error as SchedulerError where error.code == .shutDown { … }
/// ```
public struct SchedulerError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure; stable across releases, safe to match on.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code as text, as it appears in messages and on the wire.
        public let rawValue: String
        /// A code by its text; prefer the named constants.
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// `start` was called after `shutdown`.
        public static let shutDown = Code("shut-down")
        /// A blocking wait for a result ran out of time, or a task ran longer than its timeout.
        public static let timedOut = Code("timed-out")
        /// The task was cancelled before it ran.
        public static let cancelled = Code("cancelled")
        /// The task was stopped while it ran (``Future/kill(by:)``): it ended `cancelled`.
        public static let killed = Code("killed")
        /// The result exists but is not of the type asked for.
        public static let resultTypeMismatch = Code("result-type-mismatch")
        /// A task was started or restored under an id the tables already hold.
        public static let duplicateID = Code("duplicate-id")
        /// A task it was to run after failed or was cancelled: it was cancelled without running.
        public static let dependencyFailed = Code("dependency-failed")
        /// A task named a task to run after that the tables do not hold.
        public static let unknownDependency = Code("unknown-dependency")
        /// Another live task holds the unique key a task was started with.
        public static let duplicateKey = Code("duplicate-key")
        /// A task named a queue the scheduler does not have.
        public static let unknownQueue = Code("unknown-queue")
        /// The task was running when its host stopped (``FutureState/interrupted``).
        public static let interrupted = Code("interrupted")
    }

    /// What failed, for programs.
    public let code: Code
    /// What failed, for people.
    public let message: String

    /// An error with its code and message.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
