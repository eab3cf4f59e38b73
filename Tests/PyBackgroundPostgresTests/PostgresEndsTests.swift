import Foundation
import Logging
import PostgresNIO
import PyBackgroundTesting
import Testing

@testable import PyBackgroundPostgres

@Suite("Hosts' batched ends and heartbeats")
struct PostgresEndsTests {
    @Test("a batch of ends applies in one statement to the runs it fences, and to no stale one")
    func batchedEnds() async throws {
        try await PostgresTaskQueueTests.withHosts(2) { hosts in
            let (queue, connection) = hosts[0]
            try await queue.insert(PostgresTaskQueueTests.tasks(50), on: connection)
            let claims = try await queue.claim(slots: 50, names: ["noop"], lease: .seconds(30), on: connection)
            #expect(claims.count == 50)
            var stale = claims[0]
            stale.fence -= 1
            let ends =
                [PostgresTaskQueue.End(stale, state: "failed", outcome: "{}")]
                + claims.dropFirst().map { PostgresTaskQueue.End($0, state: "finished", outcome: #"{"result":1}"#) }
            let applied = try await queue.recordEnds(ends, on: connection)
            #expect(applied == Set(claims.dropFirst().map(\.id)))
            #expect(try await PostgresTaskQueueTests.state(claims[0].id, connection).0 == "running")
            // Written once: the same ends again apply to nothing.
            #expect(try await queue.recordEnds(ends, on: connection).isEmpty)
        }
    }

    @Test("heartbeats show each host's workers and running count, the most recently heard first")
    func heartbeats() async throws {
        try await PostgresTaskQueueTests.withHosts(2) { hosts in
            try await hosts[0].queue.heartbeat(workers: 4, running: 1, version: "0.9", on: hosts[0].connection)
            try await hosts[1].queue.heartbeat(workers: 2, running: 0, version: "0.9", on: hosts[1].connection)
            try await hosts[0].queue.heartbeat(workers: 4, running: 3, version: "0.9", on: hosts[0].connection)
            let seen = try await hosts[1].queue.hosts(on: hosts[1].connection)
            #expect(seen.map(\.name) == ["host-1", "host-2"])
            #expect(seen.map(\.running) == [3, 0] && seen.map(\.workers) == [4, 2])
            #expect(seen.allSatisfy { $0.silentFor < .seconds(5) })
        }
    }
}
