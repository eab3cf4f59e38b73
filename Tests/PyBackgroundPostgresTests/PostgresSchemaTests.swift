import Logging
import PostgresNIO
import PyBackgroundTesting
import Testing

@testable import PyBackgroundPostgres

/// Against a real PostgreSQL (a throwaway cluster per test, `TemporaryPostgres`).
@Suite("The shared store's schema, created and migrated by pybgd")
struct PostgresSchemaTests {
    static let logger = Logger(label: "test")

    static func connect(_ postgres: TemporaryPostgres, id: Int = 1) async throws -> PostgresConnection {
        let settings = try PostgresSettings.parse(url: postgres.url())
        return try await PostgresConnection.connect(configuration: try settings.connectionConfiguration(), id: id, logger: logger)
    }

    @Test("a fresh database gets every table at the latest version; a second migration changes nothing")
    func fresh() async throws {
        try await TemporaryPostgres.with { postgres in
            let connection = try await Self.connect(postgres)
            defer { Task { try? await connection.close() } }
            #expect(try await PostgresSchema.version(connection, logger: Self.logger) == 0)
            #expect(try await PostgresSchema.migrate(connection, logger: Self.logger) == 0)
            #expect(try await PostgresSchema.version(connection, logger: Self.logger) == PostgresSchema.latestVersion)
            var tables: [String] = []
            for try await name in try await connection.query(
                "SELECT tablename::text FROM pg_tables WHERE tablename LIKE 'pybgd_%' ORDER BY 1", logger: Self.logger
            ).decode(String.self) {
                tables.append(name)
            }
            #expect(
                tables == ["pybgd_dependencies", "pybgd_hosts", "pybgd_output", "pybgd_queues", "pybgd_schedules", "pybgd_schema", "pybgd_tasks"])
            #expect(try await PostgresSchema.migrate(connection, logger: Self.logger) == PostgresSchema.latestVersion)
            let rows = try await connection.query("SELECT count(*) FROM pybgd_schema", logger: Self.logger).collect()
            #expect(try rows.first?.decode(Int.self) == PostgresSchema.latestVersion)
        }
    }

    @Test("hosts starting together migrate once: the others wait for the lock and find it done")
    func concurrent() async throws {
        try await TemporaryPostgres.with { postgres in
            let found = try await withThrowingTaskGroup(of: Int.self) { group in
                for id in 1...4 {
                    group.addTask {
                        let connection = try await Self.connect(postgres, id: id)
                        defer { Task { try? await connection.close() } }
                        return try await PostgresSchema.migrate(connection, logger: Self.logger)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(found.sorted() == [0] + Array(repeating: PostgresSchema.latestVersion, count: 3))
        }
    }

    @Test("a database a newer pybgd wrote is refused, naming both versions, and left as it was")
    func newer() async throws {
        try await TemporaryPostgres.with { postgres in
            let connection = try await Self.connect(postgres)
            defer { Task { try? await connection.close() } }
            try await PostgresSchema.migrate(connection, logger: Self.logger)
            let newer = PostgresSchema.latestVersion + 1
            try await connection.query("INSERT INTO pybgd_schema (version) VALUES (\(newer))", logger: Self.logger)
            await #expect {
                try await PostgresSchema.migrate(connection, logger: Self.logger)
            } throws: { error in
                guard let error = error as? PostgresStoreError else { return false }
                return error.code == .newerSchema && error.description.contains("version \(newer)")
                    && error.description.contains("up to \(PostgresSchema.latestVersion)")
            }
            #expect(try await PostgresSchema.version(connection, logger: Self.logger) == newer)
        }
    }

    @Test("a server that is not there is an unavailable store, with the driver's reason")
    func unreachable() async throws {
        let settings = try PostgresSettings.parse(url: "postgres://pybgd@/jobs?host=/nonexistent-pybgd-dir")
        await #expect {
            _ = try await PostgresConnection.connect(configuration: try settings.connectionConfiguration(), id: 1, logger: Self.logger)
        } throws: { error in
            !PostgresStoreError.describe(error).isEmpty
        }
    }
}
