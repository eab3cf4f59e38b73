/// A state store that cannot be used: which file, what is wrong, and what to do about it.
public struct StateStoreError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Why the store is unusable; stable, for programs and tests.
    public enum Code: String, Sendable, Hashable {
        /// The file or its directory cannot be opened or created (permissions, missing parent, I/O).
        case unreadable
        /// The file is not a SQLite database, fails its integrity check, or holds rows that do not decode.
        case corrupt
        /// Another process holds the store (another pybgd with the same state file).
        case locked
        /// Written by a newer pybgd, whose schema this one does not know.
        case newerSchema
        /// A write failed after the store was opened (disk full, I/O error).
        case writeFailed
        /// A shared store refused a write about a run this host no longer holds: its lease ran
        /// out and another host took the task (fencing).
        case superseded
    }

    public let code: Code
    /// The database file.
    public let path: String
    /// What went wrong, with what to do where there is something to do.
    public let message: String

    public init(_ code: Code, path: String, _ message: String) {
        self.code = code
        self.path = path
        self.message = message
    }

    public var description: String { "state store \(path): \(message)" }

    /// What to do with a store that cannot be read: the file is never replaced behind the user's back.
    public static func leftAloneAdvice(_ path: String) -> String {
        "The file was left as it is: restore it from a backup, or move it aside (mv \(path) \(path).bad) to start with empty tables"
    }
}
