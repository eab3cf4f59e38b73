import NIOCore
import PyBackground
import PyBackgroundProtocol
import PyBackgroundState

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Where the daemon keeps every durable fact about its tasks, behind one seam: the launcher, the
/// recovery at start, CLEAN and retention talk only to this, and the backend is chosen once, at
/// start (``PersistenceBackend/open(_:logger:)``).
///
/// Who runs a task is the store's decision, not the submitter's: an accepted submission reaches
/// this process's workers only through the `running` handler given to ``begin(running:)``. With an
/// exclusive store (memory, SQLite) that is every task accepted here, as soon as it is durable; a
/// store shared by several hosts hands each host the tasks it claimed, submitted on any of them.
///
/// Conformances: ``MemoryPersistence`` (nothing outlives the process), ``SQLitePersistence``
/// (one SQLite file, group commit) and ``PostgresPersistence`` (one PostgreSQL database that
/// several hosts share, with leases and fencing).
protocol TaskPersistence: AnyObject, Sendable {
    /// Where the tables are kept, as STATUS reports it ("memory", a file).
    var location: String { get }

    /// Whether a task that is not retry-safe must have its start recorded (``recordStart(_:at:)``)
    /// before its body runs: true for a store that outlives the process.
    var recordsStarts: Bool { get }

    /// Submissions accepted and not yet durable: counted as pending against `max_pending`.
    var acceptsInFlight: Int { get }

    /// What an earlier life of the daemon left: every stored task in submission order, and the
    /// latest id given. Called once, before ``begin(running:)``.
    func recover() throws(StateStoreError) -> RecoveredTables

    /// From now on, tasks this process is to run are handed to `running`, in batches, in the
    /// order they were accepted (on the thread that made them durable).
    func begin(running: @escaping @Sendable ([Submission]) -> Void)

    /// Accepts a checked submission. `.durable`: it is durable already and the caller runs it now
    /// (``begin(running:)``'s handler is not called for it). `.pending`: the future gets its id, on
    /// `eventLoop`, once it is durable and handed to `running`, or fails with the
    /// ``StateStoreError`` that kept it from being accepted.
    func accept(_ submission: Submission, replyOn eventLoop: any EventLoop) -> Acceptance

    /// Records that attempt `attempt` of a task starts, durable when this returns (blocking, on the
    /// task's worker).
    func recordStart(_ id: TaskID, at startedAt: Date, attempt: Int) throws(StateStoreError)

    /// Records that an attempt of `future` failed and it waits `retrying` (its attempts and
    /// next run time as the future has them now). Written again until it is durable.
    func recordRetrying(_ future: Future)

    /// Records that a waiting task's prerequisites all finished.
    func recordReleased(_ id: TaskID)

    /// Removes chosen ended tasks; `completion` gets, once that is durable, the ids whose end is
    /// not durable yet (kept), or the failure, and then nothing was removed. Never on the caller's thread.
    func removeTasks(_ ids: [TaskID], completion: @escaping @Sendable (Result<Set<TaskID>, StateStoreError>) -> Void)

    /// Records that a queue is paused or resumed; `completion` runs once that is durable (or failed).
    func recordQueue(_ name: String, paused: Bool, completion: @escaping @Sendable (Result<Void, StateStoreError>) -> Void)

    /// The queues an earlier life paused and did not resume.
    func pausedQueues() throws(StateStoreError) -> [String]

    /// Records `future`'s end once it ends, unless `shouldRecord` says no at that moment; an end
    /// a client may have been told is written again until it is durable.
    /// Tells `handler` how long each commit to the store takes (nothing for a store in memory).
    func observeCommits(_ handler: @escaping @Sendable (Duration) -> Void)

    func recordEnd(of future: Future, if shouldRecord: @escaping @Sendable (Future.Snapshot) -> Bool)

    /// Records an end decided without running the task (recovery: interrupted, not restartable).
    func recordEnd(_ id: TaskID, state: FutureState, startedAt: Date?, endedAt: Date, error: any Error)

    /// Accepts a schedule's firing: its tasks and the schedule's progress to `through` become
    /// durable together (one transaction: every tick gets exactly one task, whenever a crash
    /// comes). `completion` runs once they are, on a thread that may start them; the `running`
    /// handler is not called for them.
    func acceptFiring(
        schedule: String, _ submissions: [Submission], through: Date,
        completion: @escaping @Sendable (Result<Void, StateStoreError>) -> Void)

    /// The schedules an earlier life stored (none for a store that does not outlive the process).
    func recoverSchedules() throws(StateStoreError) -> [StoredSchedule]

    /// How far each schedule has fired, in a store several hosts share (empty otherwise: an
    /// exclusive store's schedules come back whole from ``recoverSchedules()``).
    func scheduleProgress() throws(StateStoreError) -> [String: Date]

    /// Records a change to the schedules; `completion` runs once it is durable (or failed).
    func record(_ change: ScheduleChange, completion: @escaping @Sendable (Result<Void, StateStoreError>) -> Void)

    /// Removes the tasks that ended before `cutoff`; `completion` gets, once that is durable, the
    /// ids whose end is not durable yet (they stay in the tables), or the failure, and then
    /// nothing was removed. `completion` runs on a thread that may work for a while (never the
    /// caller's: that is an event loop).
    func removeEnded(before cutoff: Date, completion: @escaping @Sendable (Result<Set<TaskID>, StateStoreError>) -> Void)

    /// Keeps the `count` most recently ended tasks and removes the older ones (retention by count).
    func keepEnded(_ count: Int)

    /// Blocks until everything recorded so far is durable (or failed).
    func flush()

    /// Writes what is recorded, tries what failed again for up to `patience`, and closes. Returns
    /// the tasks whose end could not be written: their stored state still says they run.
    func close(retrying patience: Duration) -> [TaskID]

    // With defaults (an exclusive store): see the extension.
    var sharedByHosts: Bool { get }
    var health: String? { get }
    var cluster: ClusterPayload? { get }
    func useRegistry(_ registry: TaskRegistry)
    func beginShutdown()
    func lookUp(_ idOrPrefix: String, completion: @escaping @Sendable (Result<FuturePayload?, ProtocolError>) -> Void)
    func observePausedQueues(_ handler: @escaping @Sendable (Set<String>) -> Void)
    func requestStop(_ id: TaskID, _ stop: RemoteStop, completion: @escaping @Sendable (Result<RemoteStop.Outcome, ProtocolError>) -> Void)
    func clusterPage(offset: Int, limit: Int, states: Set<String>) async -> Result<ClusterTable, ProtocolError>
    func useOutputs(_ outputs: TaskOutputs)
    func observeSchedules(_ handler: @escaping @Sendable ([StoredSchedule]) -> Void)
    var clusterWaiting: (pending: Int, scheduled: Int)? { get }
    func sharedOutput(
        _ id: TaskID, from positions: [StandardStream: Int], completion: @escaping @Sendable (Result<SharedOutput, ProtocolError>) -> Void)
}

extension TaskPersistence {
    /// Whether other hosts share the store: then a task accepted here runs on whichever host
    /// claims it, and only what the `running` handler hands over runs here.
    var sharedByHosts: Bool { false }

    /// What is wrong with the store now (it cannot be reached, say), for STATUS and systemd;
    /// nil: nothing.
    var health: String? { nil }

    /// The tasks this host runs from now on (at start and after a reload): a shared store claims
    /// only these, and binds what it claims to them.
    func useRegistry(_ registry: TaskRegistry) {}

    /// The shutdown began: take no more work for this host.
    func beginShutdown() {}

    /// The hosts sharing the store and their tasks, as last read (nil: not shared).
    var cluster: ClusterPayload? { nil }

    /// A task of the shared store that this host's tables do not hold, by its id or a unique
    /// prefix of it: nil when there is none (and always, for a store that is not shared).
    func lookUp(_ idOrPrefix: String, completion: @escaping @Sendable (Result<FuturePayload?, ProtocolError>) -> Void) {
        completion(.success(nil))
    }

    /// Tells `handler` the paused queues whenever another host may have changed them (a shared
    /// store; an exclusive one has no other host, and never calls it).
    func observePausedQueues(_ handler: @escaping @Sendable (Set<String>) -> Void) {}

    /// Cancels or kills a task of the shared store that another host may hold (an exclusive
    /// store holds only this host's tasks: nothing to ask).
    func requestStop(_ id: TaskID, _ stop: RemoteStop, completion: @escaping @Sendable (Result<RemoteStop.Outcome, ProtocolError>) -> Void) {
        completion(.success(.refused))
    }

    func scheduleProgress() throws(StateStoreError) -> [String: Date] { [:] }

    /// Tells `handler` the schedules added at run time, as a shared store has them now (every
    /// renewal): other hosts may have added, paused or removed some. An exclusive store never calls it.
    func observeSchedules(_ handler: @escaping @Sendable ([StoredSchedule]) -> Void) {}

    /// The tasks of other hosts' and this host's that wait in a shared store and that no host
    /// holds: due (`pending`) and for their time (`scheduled`), as last counted plus what this
    /// host inserted since, for `max_pending` and `max_scheduled` (nil: not shared).
    var clusterWaiting: (pending: Int, scheduled: Int)? { nil }

    /// A page of the whole cluster's tasks, newest first, for TASKS, FUTURES, LATEST and the
    /// dashboard (an exclusive store has no cluster, its tables are this host's: empty).
    func clusterPage(offset: Int, limit: Int, states: Set<String>) async -> Result<ClusterTable, ProtocolError> {
        .success(ClusterTable(futures: [], total: 0))
    }

    /// Where the tasks this host runs write their output: a shared store copies it to the
    /// database as it grows, for LOG and FOLLOW on other hosts.
    func useOutputs(_ outputs: TaskOutputs) {}

    /// The output of a task's latest run as the shared store keeps it, from `positions` on
    /// (nothing, for a store that is not shared: a host's own tasks are read from its outputs).
    func sharedOutput(
        _ id: TaskID, from positions: [StandardStream: Int], completion: @escaping @Sendable (Result<SharedOutput, ProtocolError>) -> Void
    ) {
        completion(.success(SharedOutput(run: nil, pieces: [])))
    }
}

/// What ``TaskPersistence/accept(_:replyOn:)`` did with a submission.
enum Acceptance {
    /// Durable now: the caller starts it.
    case durable
    /// Durable later: the id comes through the future, the task through the `running` handler.
    case pending(EventLoopFuture<TaskID>)
}

/// A change to the stored schedules.
enum ScheduleChange: Sendable {
    /// Stored or replaced; with `keepProgress`, an existing one keeps its last tick.
    case save(StoredSchedule, keepProgress: Bool)
    /// Paused, or resumed at `resumedAt` (its last tick moves there: missed ticks are not made up).
    case pause(String, paused: Bool, resumedAt: Date?)
    case remove(String)
}

/// What a store held at start.
struct RecoveredTables: Sendable {
    /// Every stored task, in submission order.
    var tasks: [StoredTask] = []
    /// The last id given, even when its task has since been removed.
    var latestID: TaskID?
}
