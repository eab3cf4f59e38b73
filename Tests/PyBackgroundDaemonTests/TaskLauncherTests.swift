import Foundation
import Logging
import PyBackground
@testable import PyBackgroundDaemon
import PyBackgroundProtocol
import PyBackgroundState
import Synchronization
import Testing

@Suite("Task launcher")
struct TaskLauncherTests {
    @Test("a durable submission is acknowledged only once its row is committed, and only then queued")
    func acknowledgedAfterCommit() throws {
        let directory = try DaemonHarness.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try StateStore.open(path: directory.appendingPathComponent("pybgd.sqlite").path)
        let writer = StateWriter(store: store, nextSequence: 1)
        let scheduler = BackgroundScheduler(maxWorkers: 1, keepFinished: nil)
        let launcher = TaskLauncher(scheduler: scheduler, writer: writer, cancellation: TaskCancellation(),
                                    logger: Logger(label: "test"))
        let seen = Mutex<(committed: Int, queued: Bool, id: TaskID?)>((0, false, nil))
        let done = DispatchSemaphore(value: 0)
        launcher.launch(TaskRegistry.builtins["noop"]!, try BoundArguments.bind([], to: [], task: "noop"), words: []) { result in
            let id = try? result.get()
            seen.withLock { $0 = (writer.statistics.changes, id.flatMap { scheduler.futures[$0] } != nil, id) }
            done.signal()
        }
        done.wait()
        let (committed, queued, id) = seen.withLock { $0 }
        #expect(committed == 1, "the reply came before the row was on disk")
        #expect(queued)
        let future = try #require(id.flatMap { scheduler.futures[$0] })
        #expect(future.wait(timeout: .seconds(30)))
        scheduler.shutdown(wait: true)
        writer.close()
        let rows = try StateStore.open(path: store.path).load()
        #expect(rows.map(\.id) == [id] && rows.first?.state == .finished)
    }
}
