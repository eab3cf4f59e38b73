import Logging
import NIOCore
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
    private let idleInTransaction: Duration
    /// The longest a connection or a call may take.
    private let deadline: Duration
    private var onConnect: (@Sendable (PostgresConnection) async throws -> Void)?
    private static let ids = Atomic<Int>(0)

    /// `onConnect` runs on each new connection before it is used (a LISTEN, say).
    /// `idleInTransaction`: the server ends this connection's session when a transaction waits
    /// longer than that for its next statement: a host frozen inside a transaction (SIGSTOP, a
    /// paused VM) must not hold the row locks other hosts claim under for longer than a lease.
    init(
        settings: PostgresSettings, idleInTransaction: Duration, name: String, logger: Logger,
        onConnect: (@Sendable (PostgresConnection) async throws -> Void)? = nil
    ) {
        self.settings = settings
        self.idleInTransaction = idleInTransaction
        // A lease at least: a slow statement under load is not a dead connection.
        self.deadline = max(idleInTransaction, .seconds(5))
        self.name = name
        self.logger = logger
        self.onConnect = onConnect
    }

    /// Runs `body` on the connection; a failure closes it, so that the next call connects anew,
    /// and is thrown as a ``PostgresStoreError`` naming what the server or the driver said.
    ///
    /// Neither the connection nor `body` may take longer than `deadline` (nil: the link's): past
    /// it the connection is closed and the call fails, whatever the driver is waiting for. A
    /// connection cut while the server shut down once left a statement waiting for ever (seen
    /// under load: a claim loop that never claimed again, and a shutdown that never ended).
    func run<Value: Sendable>(
        deadline: Duration? = nil, _ body: @escaping @Sendable (PostgresConnection) async throws -> Value
    ) async throws(PostgresStoreError) -> Value {
        let limit = deadline ?? self.deadline
        let connection: PostgresConnection
        do {
            // Connected already (the usual case): no deadline to arm for it.
            if let open = self.connection, !open.isClosed {
                connection = open
            } else {
                connection = try await Self.within(limit, { try await self.connected() }, otherwise: {})
            }
        } catch {
            throw PostgresStoreError(.unavailable, "cannot connect to PostgreSQL (\(settings)): \(PostgresStoreError.describe(error))")
        }
        do {
            return try await Self.within(
                limit, { try await body(connection) },
                otherwise: {
                    let closing: EventLoopFuture<Void> = connection.close()
                    _ = closing
                })
        } catch {
            if let error = error as? PostgresStoreError, error.code != .unavailable { throw error }
            self.connection = nil
            try? await connection.close()
            throw PostgresStoreError(.unavailable, "PostgreSQL (\(settings)): \(PostgresStoreError.describe(error))")
        }
    }

    /// Runs `body` in a task of its own and returns what it returns, or throws once `limit` has
    /// passed (after `otherwise`, which should make `body` give up). The task is not waited for.
    private static func within<Value: Sendable>(
        _ limit: Duration, _ body: @escaping @Sendable () async throws -> Value, otherwise: @escaping @Sendable () -> Void
    ) async throws -> Value {
        let answered = OnceFlag()
        return try await withCheckedThrowingContinuation { continuation in
            let timer = Task {
                guard (try? await Task.sleep(for: limit)) != nil, answered.claim() else { return }
                otherwise()
                continuation.resume(throwing: PostgresStoreError(.unavailable, "no answer within \(limit)"))
            }
            Task {
                let result = await Result(awaiting: body)
                timer.cancel()
                if answered.claim() { continuation.resume(with: result) }
            }
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
            let milliseconds = max(1, idleInTransaction.components.seconds * 1000 + idleInTransaction.components.attoseconds / 1_000_000_000_000_000)
            try await fresh.query(
                PostgresQuery(unsafeSQL: "SET idle_in_transaction_session_timeout = \(milliseconds)"), logger: connectionLogger)
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
