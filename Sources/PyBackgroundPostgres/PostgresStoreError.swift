import PostgresNIO

/// Why the shared store cannot do what was asked: a stable code for the protocol and exit
/// statuses, and a description naming what and why (never the password).
public struct PostgresStoreError: Error, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The server cannot be reached, or refused the connection or a statement.
        case unavailable
        /// The tables were written by a newer pybgd.
        case newerSchema = "newer-schema"
        /// The settings cannot be used (see ``PostgresSettingsError``).
        case settings
    }

    public let code: Code
    public let description: String

    public init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }

    /// What the server or the driver said, in one line: PostgreSQL's own message and code for a
    /// server error (postgres-nio's `String(describing:)` hides them to keep secrets out of logs;
    /// a server's message holds none of ours).
    public static func describe(_ error: any Error) -> String {
        if let error = error as? PostgresTransactionError {
            return [error.beginError, error.closureError, error.commitError, error.rollbackError].compactMap { $0 }.map(describe).first
                ?? "a transaction failed"
        }
        if let error = error as? PSQLError {
            if let server = error.serverInfo, let message = server[.message] {
                return "\(message) (SQLSTATE \(server[.sqlState] ?? "?"))"
            }
            switch (error.code, error.underlying) {
            case (.clientClosedConnection, _), (.serverClosedConnection, _):
                return "the connection to the server was closed"
            case (_, let underlying?):
                return "\(error.code): \(describe(underlying))"
            case (_, nil):
                return "\(error.code)"
            }
        }
        return "\(error)"
    }
}
