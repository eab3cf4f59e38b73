import PyBackground
import PyBackgroundState

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What a start does with the tasks an earlier life of the daemon left in its store, in
/// submission order: ended tasks back into the tables; pending tasks, and running ones whose
/// registration is retry-safe, queued again under their ids; other running ones marked
/// interrupted; tasks no longer registered, or whose arguments no longer bind, failed.
struct TaskRecovery {
    let launcher: TaskLauncher
    let registry: TaskRegistry

    /// What a start found in the store.
    struct Summary: Hashable, CustomStringConvertible {
        var restored = 0
        var requeued = 0
        var interrupted = 0
        var unrunnable = 0

        var description: String {
            "\(restored) ended restored, \(requeued) queued again, \(interrupted) interrupted, \(unrunnable) could not run again"
        }
    }

    /// Brings the store's tables back into the scheduler and queues what runs again. Call once,
    /// before anything is accepted.
    func recover() throws(StateStoreError) -> Summary {
        let persistence = launcher.persistence
        let scheduler = launcher.scheduler
        let tables = try persistence.recover()
        var summary = Summary()
        let location = persistence.location
        // Queued in runs between the rows restored as ended: one batch each, in submission order.
        var requeued: [Submission] = []
        func runRequeued() {
            guard !requeued.isEmpty else { return }
            launcher.run(requeued)
            requeued.removeAll()
        }
        for row in tables.tasks {
            let record = try RowJSON.record(row, path: location)
            if row.state.isDone {
                runRequeued()
                let outcome = try RowJSON.restoredOutcome(row, path: location)
                _ = try? scheduler.restore(record, state: row.state, startedAt: row.startedAt, endedAt: row.endedAt, outcome: outcome)
                summary.restored += 1
                continue
            }
            guard let task = registry[row.name] else {
                runRequeued()
                end(
                    record, row, as: .failed,
                    TaskFailure(
                        .notRestartable,
                        "not run again after the restart: no task named \"\(row.name)\" is registered now (registered: \(registry.names.joined(separator: ", ")))"
                    ))
                summary.unrunnable += 1
                continue
            }
            if row.state == .running && !task.retryIfInterrupted {
                runRequeued()
                end(
                    record, row, as: .interrupted,
                    SchedulerError(
                        .interrupted,
                        "pybgd stopped while this task ran; it was not run again, since task \"\(row.name)\" is not declared retry_if_interrupted"))
                summary.interrupted += 1
                continue
            }
            let words = try RowJSON.words(row, path: location)
            let arguments: BoundArguments
            do {
                arguments = try BoundArguments.bind(words, to: task.parameters, task: row.name)
            } catch {
                runRequeued()
                end(record, row, as: .failed, TaskFailure(.notRestartable, "not run again after the restart: \(error.message)"))
                summary.unrunnable += 1
                continue
            }
            requeued.append(Submission(record: record, task: task, arguments: arguments, words: words))
            summary.requeued += 1
        }
        runRequeued()
        // When CLEAN or retention removed the last task's row, latest_id still names it.
        if let latest = tables.latestID { scheduler.restoreLatestID(latest) }
        persistence.flush()
        return summary
    }

    /// Restores a row that cannot run as ended, and records that end.
    private func end(_ record: TaskRecord, _ row: StoredTask, as state: FutureState, _ error: any Error) {
        let endedAt = Date()
        _ = try? launcher.scheduler.restore(record, state: state, startedAt: row.startedAt, endedAt: endedAt, outcome: .failure(error))
        launcher.persistence.recordEnd(row.id, state: state, startedAt: row.startedAt, endedAt: endedAt, error: error)
    }
}
