/// Why a cron expression was refused: a stable ``Code`` and a message that names the field, what
/// was written and what that field accepts.
public struct CronExpressionError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of mistake; stable, safe to match on.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// Not 5 fields (or 6 with seconds first), and not a known `@` shorthand.
        public static let fieldCount = Code("field-count")
        /// A value, range, step or name a field does not accept.
        public static let invalidField = Code("invalid-field")
        /// Well formed, but no time ever matches (`0 0 30 2 *`).
        public static let neverMatches = Code("never-matches")
    }

    /// What is wrong, for programs.
    public let code: Code
    /// What is wrong and what is accepted, for people.
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
