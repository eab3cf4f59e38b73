import Logging
import NIOCore
import PyBackground
import PyBackgroundState

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `state.store: sqlite`: the tables in one SQLite file that this process holds exclusively,
/// written by group commit (``StateWriter``). A submission is durable once its commit is; the
/// tasks of one commit are started together and their replies handed back together
/// (``AcceptedBatch``). Every task accepted here runs here.
final class SQLitePersistence: TaskPersistence {
    let writer: StateWriter
    private let accepted: AcceptedBatch

    /// Opens (or creates) the store at `path`; see ``StateStore/open(path:groupID:)``.
    init(path: String, groupID: UInt32?, logger: Logger) throws(StateStoreError) {
        let store = try StateStore.open(path: path, groupID: groupID)
        if let warning = store.permissionWarning { logger.warning("\(warning)") }
        let accepted = AcceptedBatch()
        self.accepted = accepted
        self.writer = StateWriter(
            store: store, nextSequence: try store.lastSequence() + 1,
            onFailure: { error, changes in
                logger.error("state store write failed", metadata: ["changes": "\(changes)", "error": "\(error)"])
            },
            afterBatch: { accepted.deliver() })
    }

    var location: String { writer.store.path }
    var recordsStarts: Bool { true }
    var acceptsInFlight: Int { writer.pendingInserts }

    func recover() throws(StateStoreError) -> RecoveredTables {
        RecoveredTables(tasks: try writer.store.load(), latestID: try writer.store.latestID())
    }

    func begin(running: @escaping @Sendable ([Submission]) -> Void) {
        accepted.begin(running: running)
    }

    func accept(_ submission: Submission, replyOn eventLoop: any EventLoop) -> Acceptance {
        let promise = eventLoop.makePromise(of: TaskID.self)
        let accepted = self.accepted
        writer.insert(Self.row(submission)) { result in accepted.add(submission, promise: promise, result: result) }
        return .pending(promise.futureResult)
    }

    func acceptFiring(
        schedule: String, _ submissions: [Submission], through: Date,
        completion: @escaping @Sendable (Result<Void, StateStoreError>) -> Void
    ) {
        writer.insertFiring(schedule: schedule, tasks: submissions.map(Self.row), through: through, completion: completion)
    }

    func recoverSchedules() throws(StateStoreError) -> [StoredSchedule] {
        try writer.store.loadSchedules()
    }

    func record(_ change: ScheduleChange, completion: @escaping @Sendable (Result<Void, StateStoreError>) -> Void) {
        let stateChange: StateChange =
            switch change {
            case .save(let schedule, let keepProgress): .saveSchedule(schedule, keepProgress: keepProgress)
            case .pause(let name, let paused, let resumedAt): .pauseSchedule(name, paused: paused, resumedAt: resumedAt)
            case .remove(let name): .removeSchedule(name)
            }
        writer.record(stateChange, completion: completion)
    }

    /// A submission's row as first stored: pending, waiting for its prerequisites, or scheduled
    /// with its run time.
    private static func row(_ submission: Submission) -> StoredTask {
        let record = submission.record
        let state: FutureState =
            if record.runAt != nil { .scheduled } else if !submission.optionWords.isEmpty && !record.options.after.isEmpty { .waiting } else { .pending }
        return StoredTask(
            sequence: 0, id: record.id, name: record.name, words: RowJSON.words(submission.words),
            args: RowJSON.args(record.args), kwargs: RowJSON.kwargs(record.kwargs),
            state: state, submittedAt: record.submittedAt, runAt: record.runAt,
            schedule: record.schedule, tick: record.tick,
            options: submission.optionWords.isEmpty ? nil : RowJSON.words(submission.optionWords))
    }

    func recordStart(_ id: TaskID, at startedAt: Date, attempt: Int) throws(StateStoreError) {
        try writer.recordAndWait(.started(id, at: startedAt, attempt: attempt))
    }

    func recordRetrying(_ future: Future) {
        let snapshot = future.snapshot
        guard let retryAt = snapshot.retryAt else { return }
        writer.recordUntilDurable(
            .retrying(future.id, attempt: snapshot.attempt, attempts: RowJSON.attempts(snapshot.attempts), runAt: retryAt))
    }

    func recordReleased(_ id: TaskID) {
        writer.record(.released(id))
    }

    func removeTasks(_ ids: [TaskID], completion: @escaping @Sendable (Result<Set<TaskID>, StateStoreError>) -> Void) {
        let writer = self.writer
        writer.record(.removeTasks(ids)) { result in
            completion(result.map { writer.unwrittenEnds })
        }
    }

    func recordQueue(_ name: String, paused: Bool, completion: @escaping @Sendable (Result<Void, StateStoreError>) -> Void) {
        writer.record(.pauseQueue(name, paused: paused), completion: completion)
    }

    func pausedQueues() throws(StateStoreError) -> [String] {
        try writer.store.pausedQueues()
    }

    func observeCommits(_ handler: @escaping @Sendable (Duration) -> Void) {
        writer.observeCommits(handler)
    }

    func recordEnd(of future: Future, if shouldRecord: @escaping @Sendable (Future.Snapshot) -> Bool) {
        let writer = self.writer
        future.addDoneCallback { future in
            let snapshot = future.snapshot
            guard shouldRecord(snapshot) else { return }
            let (result, error) = RowJSON.outcome(snapshot.outcome)
            // Clients may be told this end at once: it is written again until it is on disk.
            writer.recordUntilDurable(
                .ended(
                    future.id, state: snapshot.state, startedAt: snapshot.startedAt,
                    endedAt: snapshot.endedAt ?? Date(), result: result, error: error))
        }
    }

    func recordEnd(_ id: TaskID, state: FutureState, startedAt: Date?, endedAt: Date, error: any Error) {
        let (_, errorJSON) = RowJSON.outcome(.failure(error))
        writer.record(.ended(id, state: state, startedAt: startedAt, endedAt: endedAt, result: nil, error: errorJSON))
    }

    func removeEnded(before cutoff: Date, completion: @escaping @Sendable (Result<Set<TaskID>, StateStoreError>) -> Void) {
        let writer = self.writer
        writer.record(.removeEnded(endedBefore: cutoff)) { result in
            completion(result.map { writer.unwrittenEnds })
        }
    }

    func keepEnded(_ count: Int) {
        writer.record(.keepEnded(count))
    }

    func flush() {
        writer.flush()
    }

    func close(retrying patience: Duration) -> [TaskID] {
        writer.close(retrying: patience).compactMap { change in
            if case .ended(let id, _, _, _, _, _) = change { id } else { nil }
        }
    }
}
