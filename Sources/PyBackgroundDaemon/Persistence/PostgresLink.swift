import Logging
import PostgresNIO
import PyBackgroundPostgres
import Synchronization

/// One connection to the shared store, made when first needed and made again after it failed:
/// a loop of ``PostgresPersistence`` runs its statements through its own link, so that a
/// database that went away costs each loop one failed statement, then a reconnection.
actor PostgresLink {
    private let settings: PostgresSettings
    private let name: String
    private let logger: Logger
    private var connection: PostgresConnection?
    private var onConnect: (@Sendable (PostgresConnection) async throws -> Void)?
    private static let ids = Atomic<Int>(0)

    /// `onConnect` runs on each new connection before it is used (a LISTEN, say).
    init(settings: PostgresSettings, name: String, logger: Logger, onConnect: (@Sendable (PostgresConnection) async throws -> Void)? = nil) {
        self.settings = settings
        self.name = name
        self.logger = logger
        self.onConnect = onConnect
    }

    /// Runs `body` on the connection; a failure closes it, so that the next call connects anew,
    /// and is thrown as a ``PostgresStoreError`` naming what the server or the driver said.
    func run<Value: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> Value) async throws(PostgresStoreError) -> Value {
        let connection: PostgresConnection
        do {
            connection = try await connected()
        } catch {
            throw PostgresStoreError(.unavailable, "cannot connect to PostgreSQL (\(settings)): \(PostgresStoreError.describe(error))")
        }
        do {
            return try await body(connection)
        } catch {
            if let error = error as? PostgresStoreError, error.code != .unavailable { throw error }
            self.connection = nil
            try? await connection.close()
            throw PostgresStoreError(.unavailable, "PostgreSQL (\(settings)): \(PostgresStoreError.describe(error))")
        }
    }

    private func connected() async throws -> PostgresConnection {
        if let connection, !connection.isClosed { return connection }
        connection = nil
        let id = Self.ids.add(1, ordering: .relaxed).newValue
        var connectionLogger = logger
        connectionLogger[metadataKey: "postgres_link"] = "\(name)"
        let fresh = try await PostgresConnection.connect(configuration: try settings.connectionConfiguration(), id: id, logger: connectionLogger)
        do {
            try await onConnect?(fresh)
        } catch {
            try? await fresh.close()
            throw error
        }
        connection = fresh
        return fresh
    }

    /// Closes the connection (the next call would connect again).
    func close() async {
        if let connection { try? await connection.close() }
        connection = nil
    }
}
