import Foundation
import Logging
import PostgresNIO
import PyBackgroundTesting
import Testing

@testable import PyBackgroundPostgres

@Suite("Hosts sharing unique keys, schedules and wake-ups")
struct PostgresSharedTests {
    @Test("of three hosts submitting one unique key at once, exactly one inserts; the others get its id; once it ended the key is free")
    func uniqueKeys() async throws {
        try await PostgresTaskQueueTests.withHosts(3) { hosts in
            let outcomes = try await withThrowingTaskGroup(of: (UUID, PostgresTaskQueue.UniqueInsert).self) { group in
                for host in hosts {
                    group.addTask {
                        let task = PostgresTaskQueue.NewTask(id: UUID(), name: "noop", uniqueKey: "report-2026-11-28")
                        return (task.id, try await host.queue.insert(unique: task, on: host.connection))
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let winners = outcomes.filter { $0.1 == .inserted }
            #expect(winners.count == 1)
            let winner = try #require(winners.first).0
            #expect(outcomes.filter { $0.1 == .held(by: winner, state: "pending") }.count == 2)
            let (queue, connection) = hosts[0]
            let claim = try #require(try await queue.claim(slots: 1, names: ["noop"], lease: .seconds(30), on: connection).first)
            #expect(try await queue.recordEnd(claim, state: "finished", outcome: "{}", on: connection))
            let again = PostgresTaskQueue.NewTask(id: UUID(), name: "noop", uniqueKey: "report-2026-11-28")
            #expect(try await queue.insert(unique: again, on: connection) == .inserted)
        }
    }

    @Test("three hosts firing the same 30 ticks of a schedule at once: exactly one task per tick")
    func scheduleTicks() async throws {
        try await PostgresTaskQueueTests.withHosts(3) { hosts in
            let start = Date(timeIntervalSince1970: 1_795_824_000)
            let ticks = (0..<31).map { start.addingTimeInterval(Double($0) * 60) }
            for host in hosts {
                let stored = try await host.queue.register(
                    schedule: "every-minute", definition: #"{"cron":"* * * * *"}"#, firstTick: ticks[0], on: host.connection)
                #expect(stored == ticks[0])
            }
            let fired = try await withThrowingTaskGroup(of: Int.self) { group in
                for host in hosts {
                    group.addTask {
                        var count = 0
                        for index in 0..<30 {
                            let task = PostgresTaskQueue.NewTask(id: UUID(), name: "noop", record: #"{"tick":\#(index)}"#)
                            if try await host.queue.fire(
                                schedule: "every-minute", tick: ticks[index], next: ticks[index + 1], tasks: [task], on: host.connection)
                            {
                                count += 1
                            }
                        }
                        return count
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(fired.reduce(0, +) == 30)
            let perTick = try await hosts[0].connection.query(
                "SELECT record->>'tick', count(*) FROM pybgd_tasks GROUP BY 1 HAVING count(*) <> 1", logger: PostgresTaskQueueTests.logger
            ).collect()
            #expect(perTick.isEmpty)
            let total = try await hosts[0].connection.query("SELECT count(*) FROM pybgd_tasks", logger: PostgresTaskQueueTests.logger).collect()
            #expect(try total[0].decode(Int.self) == 30)
        }
    }

    @Test("an idle host listening is woken by another host's insert, at its commit")
    func wake() async throws {
        try await PostgresTaskQueueTests.withHosts(2) { hosts in
            let notifications = try await hosts[1].connection.listen(PostgresTaskQueue.wakeChannel)
            try await hosts[0].queue.insert(PostgresTaskQueueTests.tasks(3), on: hosts[0].connection)
            let woken = try await withThrowingTaskGroup(of: String?.self) { group in
                group.addTask {
                    for try await notification in notifications { return notification.payload }
                    return nil
                }
                group.addTask {
                    try await Task.sleep(for: .seconds(10))
                    return nil
                }
                let first = try await group.next() ?? nil
                group.cancelAll()
                return first
            }
            #expect(woken == "3")
        }
    }
}
