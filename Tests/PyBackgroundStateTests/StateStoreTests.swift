import Dispatch
import GRDB
import PyBackground
import PyBackgroundState
import PyBackgroundTesting
import Synchronization
import Testing

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A fresh directory per test, removed at the end.
struct StoreDirectory: ~Copyable {
    let path: String

    init() throws { path = try TemporaryDirectory.make("pybgd-state").path }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    var storePath: String { path + "/state/pybgd.sqlite" }
}

func row(_ sequence: Int64 = 0, name: String = "noop", state: FutureState = .pending, ended: Double? = nil) -> StoredTask {
    StoredTask(
        sequence: sequence, id: TaskID.random(), name: name, words: "[]", args: "[]", kwargs: "{}",
        state: state, submittedAt: Date(timeIntervalSince1970: 1_700_000_000 + Double(sequence)),
        startedAt: ended.map { Date(timeIntervalSince1970: $0 - 1) },
        endedAt: ended.map(Date.init(timeIntervalSince1970:)),
        result: state == .finished ? "null" : nil)
}

@Suite("State store")
struct StateStoreTests {
    @Test("rows come back in submission order with every change applied")
    func roundTrip() throws {
        let directory = try StoreDirectory()
        let store = try StateStore.open(path: directory.storePath)
        let first = row(1)
        let second = row(2, name: "echo")
        var third = row(3, state: .scheduled)
        third.runAt = Date(timeIntervalSince1970: 1_800_000_000.25)
        let start = Date(timeIntervalSince1970: 1_700_000_100)
        let end = Date(timeIntervalSince1970: 1_700_000_101.5)
        try store.apply([.insert(first), .insert(second), .insert(third)])
        try store.apply([
            .started(first.id, at: start, attempt: 1),
            .ended(first.id, state: .finished, startedAt: nil, endedAt: end, result: #""done""#, error: nil),
            .started(second.id, at: start, attempt: 1),
        ])
        store.close()

        let rows = try StateStore.open(path: directory.storePath).load()
        #expect(rows.map(\.id) == [first.id, second.id, third.id])
        #expect(rows.map(\.state) == [.finished, .running, .scheduled])
        #expect(rows[2].runAt == third.runAt && rows[0].runAt == nil)
        #expect(rows[0].startedAt == start && rows[0].endedAt == end && rows[0].result == #""done""#)
        #expect(rows[1].name == "echo" && rows[1].startedAt == start && rows[1].endedAt == nil)
    }

    @Test("a file that is not a database is reported as corrupt and left byte for byte as it was")
    func notADatabase() throws {
        let directory = try StoreDirectory()
        try FileManager.default.createDirectory(atPath: directory.path + "/state", withIntermediateDirectories: true)
        let garbage = Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 7919) })
        try garbage.write(to: URL(fileURLWithPath: directory.storePath))
        let error = #expect(throws: StateStoreError.self) { try StateStore.open(path: directory.storePath) }
        #expect(error?.code == .corrupt)
        #expect(error?.description.contains(directory.storePath) == true)
        #expect(error?.description.contains("move it aside") == true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: directory.storePath)) == garbage)
    }

    @Test("a row that does not decode makes the store corrupt, naming the row")
    func undecodableRow() throws {
        let directory = try StoreDirectory()
        let store = try StateStore.open(path: directory.storePath)
        var bad = row(7)
        bad.state = .finished  // finished without an end time
        try store.apply([.insert(row(6)), .insert(bad)])
        let error = #expect(throws: StateStoreError.self) { try store.load() }
        #expect(error?.code == .corrupt)
        #expect(error?.message.contains("row 7") == true)
    }

    @Test("a second process (or store) on the same file is refused as locked")
    func exclusive() throws {
        let directory = try StoreDirectory()
        let store = try StateStore.open(path: directory.storePath)
        try store.apply([.insert(row(1))])
        let error = #expect(throws: StateStoreError.self) { try StateStore.open(path: directory.storePath) }
        #expect(error?.code == .locked)
        store.close()
        #expect(try StateStore.open(path: directory.storePath).load().count == 1)
    }

    @Test("a directory it cannot create is reported as unreadable")
    func unwritableDirectory() throws {
        let directory = try StoreDirectory()
        try Data("x".utf8).write(to: URL(fileURLWithPath: directory.path + "/file"))
        let error = #expect(throws: StateStoreError.self) { try StateStore.open(path: directory.path + "/file/sub/pybgd.sqlite") }
        #expect(error?.code == .unreadable)
    }

    @Test("latest_id is the newest insert, and stays when retention removes its row and after a reopen")
    func latestID() throws {
        let directory = try StoreDirectory()
        var store = try StateStore.open(path: directory.storePath)
        #expect(try store.latestID() == nil)
        let first = row(1)
        let second = row(2, state: .finished, ended: 10)
        try store.apply([.insert(first), .insert(second), .started(first.id, at: Date(), attempt: 1)])
        #expect(try store.latestID() == second.id)
        try store.apply([.removeEnded(endedBefore: nil)])
        #expect(try store.load().map(\.id) == [first.id])
        #expect(try store.latestID() == second.id)
        store.close()
        store = try StateStore.open(path: directory.storePath)
        #expect(try store.latestID() == second.id)
        let third = row(3)
        try store.apply([.insert(third)])
        #expect(try store.latestID() == third.id)
    }

    @Test("a store written before latest_id was kept gets it from its newest row")
    func latestIDOfAnOlderStore() throws {
        let directory = try StoreDirectory()
        let rows = [row(1), row(2), row(3, state: .finished, ended: 10)]
        let store = try StateStore.open(path: directory.storePath)
        try store.apply(rows.map(StateChange.insert))
        store.close()
        // Back to the first schema, as an earlier pybgd left the file.
        try DatabaseQueue(path: directory.storePath).write { db in
            try db.execute(
                sql: """
                    DROP TABLE meta; ALTER TABLE task DROP COLUMN run_at; DROP INDEX task_by_tick; ALTER TABLE task DROP COLUMN schedule;
                    ALTER TABLE task DROP COLUMN tick; DROP TABLE schedule; ALTER TABLE task DROP COLUMN options;
                    ALTER TABLE task DROP COLUMN attempt; ALTER TABLE task DROP COLUMN attempts; DROP TABLE queue_state;
                    DELETE FROM grdb_migrations WHERE identifier != 'v1 task table'
                    """)
        }
        let migrated = try StateStore.open(path: directory.storePath)
        #expect(try migrated.latestID() == rows[2].id)
        #expect(try migrated.load().map(\.id) == rows.map(\.id))
    }

    @Test(
        "retention removes ended rows only: by age, by count, or all",
        arguments: [
            (StateChange.removeEnded(endedBefore: nil), ["p", "r"]),
            (.removeEnded(endedBefore: Date(timeIntervalSince1970: 25)), ["p", "r", "e30", "e40"]),
            (.keepEnded(1), ["p", "r", "e40"]),
            (.keepEnded(3), ["p", "r", "e20", "e30", "e40"]),
            (.keepEnded(10), ["p", "r", "e10", "e20", "e30", "e40"]),
            (.keepEnded(0), ["p", "r"]),
        ])
    func retention(change: StateChange, kept: [String]) throws {
        let directory = try StoreDirectory()
        let store = try StateStore.open(path: directory.storePath)
        var rows = [row(1, name: "p"), row(2, name: "r", state: .running)]
        for (index, end) in [10.0, 20, 30, 40].enumerated() {
            rows.append(row(Int64(3 + index), name: "e\(Int(end))", state: .finished, ended: end))
        }
        try store.apply(rows.map(StateChange.insert))
        try store.apply([change])
        #expect(try store.load().map(\.name) == kept)
    }
}

@Suite("Group commit")
struct StateWriterTests {
    @Test("concurrent inserts share transactions, keep queue order, and each is acknowledged once it is durable")
    func groupCommit() async throws {
        let directory = try StoreDirectory()
        let store = try StateStore.open(path: directory.storePath)
        let writer = StateWriter(store: store, nextSequence: 1)
        let acknowledged = Mutex<[Int64]>([])
        let count = 2000
        DispatchQueue.concurrentPerform(iterations: 4) { lane in
            for _ in 0..<count / 4 {
                let task = row()
                writer.insert(task) { result in
                    if case .success = result { acknowledged.withLock { $0.append(0) } }
                }
            }
        }
        writer.flush()
        #expect(acknowledged.withLock { $0.count } == count)
        #expect(writer.pendingInserts == 0)
        let statistics = writer.statistics
        #expect(statistics.changes == count)
        #expect(statistics.commits < count)
        writer.close()
        let rows = try StateStore.open(path: directory.storePath).load()
        #expect(rows.map(\.sequence) == Array(1...Int64(count)))
    }

    @Test("after close, a change fails at once instead of waiting forever")
    func closed() throws {
        let directory = try StoreDirectory()
        let writer = StateWriter(store: try StateStore.open(path: directory.storePath), nextSequence: 1)
        writer.close()
        #expect(throws: StateStoreError.self) { try writer.recordAndWait(.removeEnded(endedBefore: nil)) }
    }
}

@Suite("State store: schedules")
struct StateStoreScheduleTests {
    @Test("a firing's tasks and the schedule's progress land together; a second task for the same tick is refused")
    func firingIsOneTransaction() throws {
        let directory = try StoreDirectory()
        let store = try StateStore.open(path: directory.storePath)
        let created = Date(timeIntervalSince1970: 1_800_000_000)
        try store.apply([
            .saveSchedule(StoredSchedule(name: "beat", definition: #"["every=1m","noop"]"#, origin: .config, createdAt: created), keepProgress: true)
        ])
        let tick = created.addingTimeInterval(60)
        var task = row(1)
        task.schedule = "beat"
        task.tick = tick
        try store.apply([.fired(schedule: "beat", tasks: [task], through: tick)])
        #expect(try store.loadSchedules().first?.lastTick == tick)
        let stored = try #require(try store.load().first)
        #expect(stored.schedule == "beat" && stored.tick == tick)
        // The same tick again (a bug that fired twice) fails the transaction: progress stays.
        var twice = row(2)
        twice.schedule = "beat"
        twice.tick = tick
        #expect(throws: StateStoreError.self) { try store.apply([.fired(schedule: "beat", tasks: [twice], through: tick.addingTimeInterval(60))]) }
        #expect(try store.loadSchedules().first?.lastTick == tick)
        // A definition replaced with keepProgress keeps the last tick; pause and resume are stored; remove leaves the tasks.
        try store.apply([
            .saveSchedule(StoredSchedule(name: "beat", definition: #"["every=2m","noop"]"#, origin: .config, createdAt: created), keepProgress: true)
        ])
        let replaced = try #require(try store.loadSchedules().first)
        #expect(replaced.definition == #"["every=2m","noop"]"# && replaced.lastTick == tick)
        let resumed = tick.addingTimeInterval(500)
        try store.apply([.pauseSchedule("beat", paused: true, resumedAt: nil)])
        #expect(try store.loadSchedules().first?.paused == true)
        try store.apply([.pauseSchedule("beat", paused: false, resumedAt: resumed)])
        let running = try #require(try store.loadSchedules().first)
        #expect(!running.paused && running.lastTick == resumed)
        try store.apply([.removeSchedule("beat")])
        #expect(try store.loadSchedules().isEmpty && store.load().count == 1)
    }
}
