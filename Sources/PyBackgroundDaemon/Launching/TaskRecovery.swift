import PyBackground
import PyBackgroundProtocol
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
            let task = registry[row.name]
            let optionWords = try RowJSON.optionWords(row, path: location)
            let options = try Self.options(optionWords, row: row, path: location)
            let after = options.after.compactMap(TaskID.init)
            let taskOptions = (task?.policy ?? TaskPolicy()).options(for: options, after: after)
            let record = try RowJSON.record(row, options: optionWords.isEmpty && (task?.policy.isDefault ?? true) ? TaskOptions() : taskOptions, path: location)
            let attempts = try RowJSON.attempts(row, path: location)
            if row.state.isDone {
                runRequeued()
                let outcome = try RowJSON.restoredOutcome(row, path: location)
                _ = try? scheduler.restore(
                    record, state: row.state, startedAt: row.startedAt, endedAt: row.endedAt, outcome: outcome, attempts: attempts)
                summary.restored += 1
                continue
            }
            guard let task else {
                runRequeued()
                end(
                    record, row, as: .failed,
                    TaskFailure(
                        .notRestartable,
                        "not run again after the restart: no task named \"\(row.name)\" is registered now (registered: \(registry.names.joined(separator: ", ")))"
                    ), attempts: attempts)
                summary.unrunnable += 1
                continue
            }
            // Its prerequisites come earlier in the order: start those queued so far, so the tables hold them.
            if !after.isEmpty { runRequeued() }
            // A prerequisite removed from the tables ended long ago; whether it finished is unknown.
            if row.state == .waiting, let gone = after.first(where: { scheduler.futures[$0] == nil }) {
                end(
                    record, row, as: .cancelled,
                    SchedulerError(
                        .dependencyFailed,
                        "not run: task \(gone), which it was to run after, is no longer in the tables (removed after it ended), so whether it finished is unknown"
                    ), attempts: attempts)
                summary.unrunnable += 1
                continue
            }
            let words = try RowJSON.words(row, path: location)
            let arguments: BoundArguments
            do {
                arguments = try BoundArguments.bind(words, to: task.parameters, task: row.name)
            } catch {
                runRequeued()
                end(record, row, as: .failed, TaskFailure(.notRestartable, "not run again after the restart: \(error.message)"), attempts: attempts)
                summary.unrunnable += 1
                continue
            }
            let submission = Submission(record: record, task: task, arguments: arguments, words: words, optionWords: optionWords)
            if row.state == .retrying {
                runRequeued()
                launcher.resume(submission, history: AttemptHistory(attempts: attempts, retryAt: row.runAt ?? Date()))
                summary.requeued += 1
                continue
            }
            if row.state == .running {
                // The attempt pybgd died in counts: retried if the policy allows it, else ended.
                let number = max(row.attempt, 1)
                let interrupted = SchedulerError(.interrupted, "pybgd stopped while attempt \(number) ran; whether it completed is unknown")
                // A retry-safe task is retried on interruption whatever its codes; its attempts still count.
                if let retry = taskOptions.retry,
                    retry.retries(afterAttempt: number, failure: interrupted) || (task.retryIfInterrupted && number < retry.maxAttempts)
                {
                    runRequeued()
                    let attempt = TaskAttempt(number: number, startedAt: row.startedAt, endedAt: Date(), error: interrupted)
                    let delay = retry.backoff.delay(afterAttempt: attempt.number, random: Double.random(in: 0..<1))
                    launcher.resume(
                        submission, history: AttemptHistory(attempts: attempts + [attempt], retryAt: Date().addingTimeInterval(delay.secondsAsDouble)))
                    summary.requeued += 1
                    continue
                }
                if !task.retryIfInterrupted || taskOptions.retry != nil {
                    runRequeued()
                    end(
                        record, row, as: .interrupted,
                        SchedulerError(
                            .interrupted,
                            taskOptions.retry != nil
                                ? "pybgd stopped while attempt \(number) ran; its retry policy gives it no further attempt"
                                : "pybgd stopped while this task ran; it was not run again, since task \"\(row.name)\" is not declared retry_if_interrupted"
                        ), attempts: attempts)
                    summary.interrupted += 1
                    continue
                }
            }
            requeued.append(submission)
            summary.requeued += 1
        }
        runRequeued()
        // When CLEAN or retention removed the last task's row, latest_id still names it.
        if let latest = tables.latestID { scheduler.restoreLatestID(latest) }
        persistence.flush()
        return summary
    }

    /// A row's stored flow options; words this version cannot read make the store corrupt.
    private static func options(_ words: [String], row: StoredTask, path: String) throws(StateStoreError) -> SubmitOptions {
        guard !words.isEmpty else { return SubmitOptions() }
        do {
            return try SubmitOptions.take(from: words + ["-"]).options
        } catch {
            throw StateStoreError(
                .corrupt, path: path,
                "row \(row.sequence) (task \(row.id)): column options holds \(words), which is not a set of submission options (\(error.message)). \(StateStoreError.leftAloneAdvice(path))"
            )
        }
    }

    /// Restores a row that cannot run as ended, and records that end.
    private func end(_ record: TaskRecord, _ row: StoredTask, as state: FutureState, _ error: any Error, attempts: [TaskAttempt] = []) {
        let endedAt = Date()
        _ = try? launcher.scheduler.restore(
            record, state: state, startedAt: row.startedAt, endedAt: endedAt, outcome: .failure(error), attempts: attempts)
        launcher.persistence.recordEnd(row.id, state: state, startedAt: row.startedAt, endedAt: endedAt, error: error)
    }
}
