#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Dispatch
import Logging
import PyBackground
import PyBackgroundProtocol
import PyBackgroundState
import Synchronization

/// Puts accepted tasks on the scheduler and, when the daemon keeps a state store, keeps their rows:
/// a submission is queued (and acknowledged) only once its row is on disk; a task that is not
/// retry-safe is recorded as running before its body runs; every end is recorded after it.
///
/// Without a store (`state.store: memory`) it only starts tasks.
final class TaskLauncher: Sendable {
    let scheduler: Scheduler
    /// nil: memory only.
    let writer: StateWriter?
    private let cancellation: TaskCancellation
    private let logger: Logger
    /// From the shutdown timeout on, ends caused by the shutdown itself are not recorded: the rows
    /// stay pending or running, so the next start runs them again (or marks them interrupted).
    private let cancellingForShutdown = Atomic<Bool>(false)
    /// Ends recorded since retention last ran: retention skips its write when nothing ended.
    private let endsSinceRetention = Atomic<Int>(0)

    init(scheduler: Scheduler, writer: StateWriter?, cancellation: TaskCancellation, logger: Logger) {
        self.scheduler = scheduler
        self.writer = writer
        self.cancellation = cancellation
        self.logger = logger
    }

    /// Tasks waiting to run, counting those whose rows are still being written.
    var pendingCount: Int { scheduler.pendingCount + (writer?.pendingInserts ?? 0) }

    /// Where the tables are kept, as STATUS reports it.
    var storeDescription: String { writer?.store.path ?? "memory" }

    // MARK: - Submissions

    /// Accepts a checked submission without a store: queued at once.
    func launchInMemory(_ task: RegisteredTask, _ arguments: BoundArguments) -> Result<TaskID, ProtocolError> {
        precondition(writer == nil, "with a state store, launch(_:_:words:reply:) records the task first")
        let scheduler = self.scheduler
        let cancellation = self.cancellation
        let logger = self.logger
        do {
            // The scheduler draws the id itself, from its buffered random source: the fast path.
            return .success(try scheduler.start(
                name: task.name, args: arguments.positional,
                kwargs: arguments.keywordArguments
            ) { id in
                try task.run(TaskContext(id: id, logger: logger, scheduler: scheduler, cancellation: cancellation), arguments)
            })
        } catch {
            return .failure(ProtocolError(.shuttingDown, "the daemon is shutting down and accepts no new tasks"))
        }
    }

    /// Accepts a checked submission with a store: `reply` gets the new id once its row is durable
    /// (on the writer's thread), or why nothing was accepted.
    func launch(_ task: RegisteredTask, _ arguments: BoundArguments, words: [String],
                reply: @escaping @Sendable (Result<TaskID, ProtocolError>) -> Void) {
        guard let writer else {
            reply(launchInMemory(task, arguments))
            return
        }
        let record = Self.record(task, arguments)
        let row = StoredTask(sequence: 0, id: record.id, name: task.name, words: RowJSON.words(words),
                             args: RowJSON.args(record.args), kwargs: RowJSON.kwargs(record.kwargs),
                             state: .pending, submittedAt: record.submittedAt)
        writer.insert(row) { [self] result in
            switch result {
            case .success:
                if case .failure = start(record, task, arguments) {
                    // The row is on disk, so the task is accepted: it runs at the next start.
                    logger.info("accepted during shutdown; it runs at the next start", metadata: ["id": "\(record.id)"])
                }
                reply(.success(record.id))
            case .failure(let error):
                logger.error("could not record a submission", metadata: ["task": "\(task.name)", "error": "\(error)"])
                reply(.failure(ProtocolError(.storeFailed, "the task was not accepted: \(error)")))
            }
        }
    }

    private static func record(_ task: RegisteredTask, _ arguments: BoundArguments) -> TaskRecord {
        TaskRecord(id: TaskID.random(), name: task.name, args: arguments.positional,
                   kwargs: arguments.keywordArguments, submittedAt: Date())
    }

    /// Queues `record` on the scheduler with its row kept up to date.
    private func start(_ record: TaskRecord, _ task: RegisteredTask, _ arguments: BoundArguments) -> Result<Future, ProtocolError> {
        let scheduler = self.scheduler
        let cancellation = self.cancellation
        let logger = self.logger
        let writer = task.retryIfInterrupted ? nil : self.writer
        do {
            let future = try scheduler.start(record) { id in
                if let writer {
                    // On disk before any side effect: a crash from here on leaves the row running,
                    // and the next start marks it interrupted instead of running it twice.
                    let startedAt = scheduler.futures[id]?.startedAt ?? Date()
                    try Self.recordStart(id, at: startedAt, name: record.name, writer: writer,
                                         cancellation: cancellation, logger: logger)
                }
                let context = TaskContext(id: id, logger: logger, scheduler: scheduler, cancellation: cancellation)
                return try task.run(context, arguments)
            }
            if self.writer != nil { future.addDoneCallback { [self] in recordEnd(of: $0) } }
            return .success(future)
        } catch {
            return .failure(ProtocolError(.shuttingDown, "the daemon is shutting down and accepts no new tasks"))
        }
    }

    /// Records that a task starts, waiting (on its worker) while the store cannot write: the task
    /// has not run, so it is neither failed nor run unrecorded; it runs once its start is on disk.
    /// Only the shutdown's cancellation ends the wait, and then its row stays pending for the next
    /// start.
    private static func recordStart(_ id: TaskID, at startedAt: Date, name: String, writer: StateWriter,
                                    cancellation: TaskCancellation, logger: Logger) throws(TaskFailure) {
        var delay = 0.1
        var firstFailure: ContinuousClock.Instant?
        while true {
            do {
                try writer.recordAndWait(.started(id, at: startedAt))
                if let firstFailure {
                    logger.notice("the state store recorded a start it had refused; the task runs now", metadata: [
                        "id": "\(id)", "task": "\(name)", "waited": "\(ContinuousClock.now - firstFailure)",
                    ])
                }
                return
            } catch {
                if firstFailure == nil {
                    firstFailure = .now
                    logger.warning("cannot record that a task starts; it waits, not run, until the state store can write again", metadata: [
                        "id": "\(id)", "task": "\(name)", "error": "\(error)",
                    ])
                }
            }
            guard cancellation.sleep(seconds: delay) else {
                throw TaskFailure(code: TaskFailure.cancelledAtShutdown,
                                  message: "not run: the state store could not record its start before the shutdown timeout ran out; it runs at the next start")
            }
            delay = min(delay * 2, 5)
        }
    }

    private func recordEnd(of future: Future) {
        guard let writer else { return }
        let snapshot = future.snapshot
        if cancellingForShutdown.load(ordering: .acquiring) && Self.endedByShutdown(snapshot) { return }
        let (result, error) = RowJSON.outcome(snapshot.outcome)
        // Clients may be told this end at once: it is written again until it is on disk.
        writer.recordUntilDurable(.ended(future.id, state: snapshot.state, startedAt: snapshot.startedAt,
                                         endedAt: snapshot.endedAt ?? Date(), result: result, error: error))
        endsSinceRetention.add(1, ordering: .relaxed)
    }

    private static func endedByShutdown(_ snapshot: Future.Snapshot) -> Bool {
        switch (snapshot.state, snapshot.outcome) {
        case (.cancelled, _): true
        case (.failed, .failure(let error as TaskFailure)?): error.code == TaskFailure.cancelledAtShutdown
        default: false
        }
    }

    // MARK: - Shutdown

    /// The shutdown timeout ran out: what the shutdown cancels from now on stays pending (or
    /// running) in the store, for the next start.
    func beginCancellingForShutdown() {
        cancellingForShutdown.store(true, ordering: .releasing)
    }

    /// Writes what is queued and closes the store. Returns the tasks whose end could not be
    /// written, even after retrying for `patience` (a disk still full): their rows still say they
    /// run (a retry-safe task's: pending), so the next start reports them interrupted (or runs a
    /// retry-safe one again).
    func close(retrying patience: Duration = .seconds(10)) -> [TaskID] {
        guard let writer else { return [] }
        return writer.close(retrying: patience).compactMap { change in
            if case .ended(let id, _, _, _, _, _) = change { id } else { nil }
        }
    }

    // MARK: - Retention

    /// Removes ended tasks that ended before `cutoff` (nil: all) from the store, then the same ones
    /// from the tables; `reply` gets how many left the tables. If the store cannot write, nothing
    /// is removed from either, so the tables never show less than a restart would bring back.
    /// A task whose end is not yet on disk stays in both.
    func clean(endedBefore cutoff: Date?, reply: @escaping @Sendable (Result<Int, ProtocolError>) -> Void) {
        removeEnded(before: cutoff ?? Date()) { result in
            reply(result.mapError { error in
                ProtocolError(.storeFailed,
                    "nothing was removed: the state store could not write (\(error.message)); free space on its file system and try again")
            })
        }
    }

    /// Applies the configured retention: the age limit to the store and then the tables, the
    /// count limit to the store (the scheduler applies it to the tables as tasks end).
    func applyRetention(keepFinished: Int?, maxAgeSeconds: Double?) {
        if let maxAgeSeconds {
            let logger = self.logger
            removeEnded(before: Date(timeIntervalSinceNow: -maxAgeSeconds)) { result in
                if case .success(let removed) = result, removed > 0 {
                    logger.debug("retention dropped tasks by age", metadata: ["removed": "\(removed)"])
                }
            }
        }
        if let keepFinished, endsSinceRetention.exchange(0, ordering: .relaxed) > 0 {
            writer?.record(.keepEnded(keepFinished))
        }
    }

    /// Removes the tasks that ended before `cutoff` from the store and, once that committed, the
    /// same ones from the tables, then gives the freed heap back; `completion` gets how many left
    /// the tables, or the store's failure, and then nothing was removed from either. One cutoff for
    /// both, so that a task ending meanwhile stays in both or neither; a task whose end is not yet
    /// on disk stays in both. Never on the event loop (a trim of a large heap takes milliseconds);
    /// with a store, on the writer's thread, in the commit's completion: handed to another thread,
    /// the same burst left 8 MiB more of the heap behind after three rounds (measured, old and new
    /// alternated).
    private func removeEnded(before cutoff: Date, completion: @escaping @Sendable (Result<Int, StateStoreError>) -> Void) {
        let scheduler = self.scheduler
        let removeFromTables = { @Sendable (kept: Set<TaskID>) in
            let removed = scheduler.removeEnded(endedBefore: cutoff, keeping: kept).count
            if removed > 0 { HeapTrim.now() }
            completion(.success(removed))
        }
        guard let writer else {
            DispatchQueue.global().async { removeFromTables([]) }
            return
        }
        writer.record(.removeEnded(endedBefore: cutoff)) { result in
            switch result {
            case .success: removeFromTables(writer.unwrittenEnds)
            case .failure(let error): completion(.failure(error))
            }
        }
    }

    // MARK: - Recovery

    /// What a start found in the store.
    struct RecoverySummary: Hashable, CustomStringConvertible {
        var restored = 0
        var requeued = 0
        var interrupted = 0
        var unrunnable = 0

        var description: String {
            "\(restored) ended restored, \(requeued) queued again, \(interrupted) interrupted, \(unrunnable) could not run again"
        }
    }

    /// Brings the stored rows back, in submission order: ended tasks into the tables; pending tasks,
    /// and running ones whose registration is retry-safe, queued again under their ids; other running
    /// ones marked interrupted; tasks no longer registered, or whose arguments no longer bind, failed.
    func recover(_ rows: [StoredTask], registry: TaskRegistry) throws(StateStoreError) -> RecoverySummary {
        var summary = RecoverySummary()
        let path = writer?.store.path ?? ""
        for row in rows {
            let record = try RowJSON.record(row, path: path)
            if row.state.isDone {
                let outcome = try RowJSON.restoredOutcome(row, path: path)
                _ = try? scheduler.restore(record, state: row.state, startedAt: row.startedAt, endedAt: row.endedAt, outcome: outcome)
                summary.restored += 1
                continue
            }
            guard let task = registry[row.name] else {
                end(record, row, as: .failed, TaskFailure(code: "not-restartable", message:
                    "not run again after the restart: no task named \"\(row.name)\" is registered now (registered: \(registry.names.joined(separator: ", ")))"))
                summary.unrunnable += 1
                continue
            }
            if row.state == .running && !task.retryIfInterrupted {
                end(record, row, as: .interrupted, SchedulerError(.interrupted,
                    "pybgd stopped while this task ran; it was not run again, since task \"\(row.name)\" is not declared retry_if_interrupted"))
                summary.interrupted += 1
                continue
            }
            let arguments: BoundArguments
            do {
                arguments = try BoundArguments.bind(try RowJSON.words(row, path: path), to: task.parameters, task: row.name)
            } catch let error as TaskFailure {
                end(record, row, as: .failed, TaskFailure(code: "not-restartable", message: "not run again after the restart: \(error.message)"))
                summary.unrunnable += 1
                continue
            } catch {
                throw error as? StateStoreError ?? StateStoreError(.corrupt, path: path, "row \(row.sequence): \(error)")
            }
            _ = start(record, task, arguments)
            summary.requeued += 1
        }
        return summary
    }

    /// Restores a row that cannot run as ended, and records that end.
    private func end(_ record: TaskRecord, _ row: StoredTask, as state: FutureState, _ error: any Error) {
        let endedAt = Date()
        _ = try? scheduler.restore(record, state: state, startedAt: row.startedAt, endedAt: endedAt, outcome: .failure(error))
        let (_, errorJSON) = RowJSON.outcome(.failure(error))
        writer?.record(.ended(row.id, state: state, startedAt: row.startedAt, endedAt: endedAt, result: nil, error: errorJSON))
    }
}

extension BoundArguments {
    /// The keyword arguments as the scheduler's task table records them.
    var keywordArguments: [KeywordArgument] {
        keywords.map { KeywordArgument(name: $0.name, value: $0.value) }
    }
}
