import Dispatch
import NIOCore
import PyBackground
import PyBackgroundState

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `state.store: memory`: nothing outlives the process. Every submission is "durable" at once,
/// and every record is a no-op; the tables live in the scheduler alone.
final class MemoryPersistence: TaskPersistence {
    var location: String { "memory" }
    var recordsStarts: Bool { false }
    var acceptsInFlight: Int { 0 }

    func recover() -> RecoveredTables { RecoveredTables() }
    func begin(running: @escaping @Sendable ([Submission]) -> Void) {}
    func accept(_ submission: Submission, replyOn eventLoop: any EventLoop) -> Acceptance { .durable }
    func recordStart(_ id: TaskID, at startedAt: Date, attempt: Int) {}
    func recordRetrying(_ future: Future) {}
    func recordReleased(_ id: TaskID) {}
    func pausedQueues() -> [String] { [] }

    func removeTasks(_ ids: [TaskID], completion: @escaping @Sendable (Result<Set<TaskID>, StateStoreError>) -> Void) {
        DispatchQueue.global().async { completion(.success([])) }
    }

    func recordQueue(_ name: String, paused: Bool, completion: @escaping @Sendable (Result<Void, StateStoreError>) -> Void) {
        completion(.success(()))
    }
    func observeCommits(_ handler: @escaping @Sendable (Duration) -> Void) {}
    func recordEnd(of future: Future, if shouldRecord: @escaping @Sendable (Future.Snapshot) -> Bool) {}
    func recordEnd(_ id: TaskID, state: FutureState, startedAt: Date?, endedAt: Date, error: any Error) {}

    func removeEnded(before cutoff: Date, completion: @escaping @Sendable (Result<Set<TaskID>, StateStoreError>) -> Void) {
        // Off the caller's thread, as a store's commit would be: the caller is an event loop.
        DispatchQueue.global().async { completion(.success([])) }
    }

    func acceptFiring(
        schedule: String, _ submissions: [Submission], through: Date,
        completion: @escaping @Sendable (Result<Void, StateStoreError>) -> Void
    ) {
        completion(.success(()))
    }

    func recoverSchedules() -> [StoredSchedule] { [] }
    func record(_ change: ScheduleChange, completion: @escaping @Sendable (Result<Void, StateStoreError>) -> Void) {
        completion(.success(()))
    }

    func keepEnded(_ count: Int) {}
    func flush() {}
    func close(retrying patience: Duration) -> [TaskID] { [] }
}
