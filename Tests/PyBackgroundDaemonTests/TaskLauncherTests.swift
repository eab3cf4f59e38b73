import Foundation
import Logging
import NIOPosix
import PyBackground
import PyBackgroundProtocol
import PyBackgroundState
import PyBackgroundTesting
import Synchronization
import Testing

@testable import PyBackgroundDaemon

@Suite("Task launcher")
struct TaskLauncherTests {
    @Test("a durable submission is acknowledged only once its row is committed, and only then queued")
    func acknowledgedAfterCommit() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("pybgd.sqlite").path
        let persistence = try SQLitePersistence(path: path, groupID: nil, logger: Logger(label: "test"))
        let writer = persistence.writer
        let scheduler = BackgroundScheduler(maxWorkers: 1, keepFinished: nil)
        let launcher = TaskLauncher(
            scheduler: scheduler, persistence: persistence,
            outputs: TaskOutputs(storage: MemoryOutputStorage(), maxBytes: 1024, logger: Logger(label: "test")), events: TaskEvents(),
            cancellation: TaskCancellation(), logger: Logger(label: "test"))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        let outcome = launcher.submit(
            TaskRegistry.builtins["noop"]!, try BoundArguments.bind([], to: [], task: "noop"),
            words: [], replyOn: loop)
        guard case .pending(let reply) = outcome else {
            Issue.record("a durable submission was answered before its commit: \(outcome)")
            return
        }
        let seen = Mutex<(committed: Int, queued: Bool, id: TaskID?)>((0, false, nil))
        reply.whenComplete { result in
            let id = try? result.get()
            seen.withLock { $0 = (writer.statistics.changes, id.flatMap { scheduler.futures[$0] } != nil, id) }
        }
        _ = try reply.wait()
        let (committed, queued, id) = seen.withLock { $0 }
        #expect(committed == 1, "the reply came before the row was on disk")
        #expect(queued)
        let future = try #require(id.flatMap { scheduler.futures[$0] })
        #expect(future.wait(timeout: .seconds(30)))
        scheduler.shutdown(wait: true)
        _ = launcher.close()
        let rows = try StateStore.open(path: path).load()
        #expect(rows.map(\.id) == [id] && rows.first?.state == .finished)
    }
}
