import Dispatch
import Logging
import NIOCore
import PostgresNIO
import PyBackground
import PyBackgroundPostgres
import PyBackgroundProtocol
import PyBackgroundState
import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// `state.store: postgresql`: one PostgreSQL database that several pybgd hosts share
/// (``PostgresTaskQueue`` holds the statements). A submission is acknowledged once its insert is
/// committed; it runs on whichever host claims it. This host claims up to its free workers plus
/// `prefetch`, under a lease it renews for all its tasks in one statement every third of the
/// lease; every start and end it writes carries the claim's fence, so that once its lease ran out
/// and another host took a task over, nothing of the old run lands.
///
/// Each kind of work is a loop with its own connection (``PostgresLink``), woken when there is
/// work and batching what gathered meanwhile: inserts (group commit), starts (the workers
/// waiting on them share a commit), ends and retries, claims (woken by LISTEN/NOTIFY, a slow
/// poll behind it), upkeep (lease renewal, rescue of other hosts' expired leases, the
/// heartbeat, the settling of dependents), and output (what the runs held here wrote, copied to
/// the database as it grows, for LOG and FOLLOW on other hosts). A database that went away fails
/// submissions with the reason, keeps ends until they are written, and is reconnected with
/// backoff.
final class PostgresPersistence: TaskPersistence {
    /// What the daemon's configuration says of the shared store.
    struct Settings: Sendable {
        var database: PostgresSettings
        var host: String
        var lease: Duration
        var crashLimit: Int
        var prefetch: Int
        var poll: Duration
        var workers: Int
        var queues: [(name: String, maxRunning: Int?)]
    }

    /// A claimed task this host holds until its end is written (or it is given back).
    private struct Held {
        var claim: PostgresTaskQueue.Claim
        /// When it was claimed, or its lease last renewed: its lease runs out a lease after.
        var leaseFrom: ContinuousClock.Instant
        var future: Future?
        /// Its end is queued for writing.
        var ended = false
        /// How far its output is in the database, per stream; and up to where the middle its
        /// host dropped is removed there.
        var uploaded: [StandardStream: Int] = [:]
        var droppedUpTo: [StandardStream: Int] = [:]
        /// The stop asked of it from another host that was applied (a KILL still applies after a
        /// CANCEL that found it running).
        var appliedStop: PostgresTaskQueue.StopKind?
    }

    private struct Insert {
        let row: PostgresTaskQueue.NewTask
        let promise: EventLoopPromise<TaskID>
    }

    /// A worker waiting for its start to be written.
    private final class Start: Sendable {
        let claim: PostgresTaskQueue.Claim
        let outcome = Mutex<Result<Bool, PostgresStoreError>?>(nil)
        let done = DispatchSemaphore(value: 0)

        init(_ claim: PostgresTaskQueue.Claim) { self.claim = claim }

        func complete(_ result: Result<Bool, PostgresStoreError>) {
            outcome.withLock { $0 = result }
            done.signal()
        }
    }

    private struct State {
        var running: (@Sendable ([Submission]) -> Void)?
        var registry: TaskRegistry?
        var inserts: [Insert] = []
        var starts: [Start] = []
        var ends: [PostgresTaskQueue.End] = []
        var retries: [(claim: PostgresTaskQueue.Claim, attempts: String)] = []
        var held: [UUID: Held] = [:]
        /// Down since when and why; nil: the last statement went through.
        var outage: (since: Date, reason: String)?
        /// False while the leases could not be renewed for a whole lease: claim nothing.
        var leaseHealthy = true
        /// The last claim filled every slot: an end that frees one claims again at once.
        var claimWasFull = false
        /// Runs that ended here so far: their rate sizes the prefetch.
        var endedCount = 0
        var shuttingDown = false
        var commitObserver: (@Sendable (Duration) -> Void)?
        var cluster: ClusterPayload?
        var pausedObserver: (@Sendable (Set<String>) -> Void)?
        var outputs: TaskOutputs?
        var schedulesObserver: (@Sendable ([StoredSchedule]) -> Void)?
        /// Inserted here since the cluster was last counted: due now, and for later.
        var insertedSinceCount = (pending: 0, scheduled: 0)
        /// The paused queues last handed to `pausedObserver`.
        var lastPaused: Set<String> = []
    }

    let settings: Settings
    private let queue: PostgresTaskQueue
    private let logger: Logger
    private let state = Mutex(State())
    private let pausedAtStart: [String]
    private let insertWake = AsyncWake()
    private let startWake = AsyncWake()
    private let endWake = AsyncWake()
    private let claimWake = AsyncWake()
    private let upkeepWake = AsyncWake()
    private let outputWake = AsyncWake()
    private let admin: PostgresLink
    private let loops = Mutex<[Task<Void, Never>]>([])

    /// Connects, migrates the schema, stores the configured queues, and takes back at once what
    /// an earlier life of this host held. Throws when the database cannot be reached or is of a
    /// newer pybgd: the daemon does not start.
    init(settings: Settings, logger: Logger) throws(StateStoreError) {
        self.settings = settings
        self.logger = logger
        let queue = PostgresTaskQueue(host: settings.host, logger: logger)
        self.queue = queue
        let location = "postgresql \(settings.database) (host \(settings.host))"
        admin = PostgresLink(settings: settings.database, idleInTransaction: settings.lease, name: "admin", logger: logger)
        let admin = self.admin
        do {
            pausedAtStart = try Blocking.run { [settings] in
                // Hosts starting together wait for one another's migration.
                try await admin.run(deadline: .seconds(120)) { connection in
                    try await PostgresSchema.migrate(connection, logger: logger)
                    try await queue.configure(queues: settings.queues, on: connection)
                    let left = try await queue.rescue(crashLimit: settings.crashLimit, ownedBy: settings.host, on: connection)
                    if !left.isEmpty {
                        logger.notice(
                            "took back the tasks this host held when it last stopped",
                            metadata: [
                                "pending_again": "\(left.retried.count)", "interrupted": "\(left.interrupted.count)",
                                "quarantined": "\(left.quarantined.count)",
                            ])
                    }
                    return try await queue.pausedQueues(on: connection)
                }
            }
        } catch let error as PostgresStoreError {
            let code: StateStoreError.Code = error.code == .newerSchema ? .newerSchema : .unreadable
            throw StateStoreError(code, path: location, error.description)
        } catch {
            throw StateStoreError(.unreadable, path: location, "\(error)")
        }
    }

    var location: String {
        health.map { "\(baseLocation): \($0)" } ?? baseLocation
    }

    /// The database and this host's name, without its health.
    private var baseLocation: String { "postgresql \(settings.database) (host \(settings.host))" }

    var health: String? {
        state.withLock { state in
            state.outage.map { "store down since \(Self.clockTime($0.since)): \($0.reason)" }
        }
    }

    var sharedByHosts: Bool { true }
    var recordsStarts: Bool { true }
    var acceptsInFlight: Int { state.withLock { $0.inserts.count } }

    /// Nothing to bring back into this host's tables: the cluster's tasks stay in the database,
    /// and this host's tables hold what it runs.
    func recover() -> RecoveredTables { RecoveredTables() }

    func useRegistry(_ registry: TaskRegistry) {
        state.withLock { $0.registry = registry }
        claimWake.signal()
    }

    func begin(running: @escaping @Sendable ([Submission]) -> Void) {
        state.withLock { $0.running = running }
        let loops: [Task<Void, Never>] = [
            Task { await self.insertLoop() },
            Task { await self.startLoop() },
            Task { await self.endLoop() },
            Task { await self.claimLoop() },
            Task { await self.upkeepLoop() },
            Task { await self.outputLoop() },
        ]
        self.loops.withLock { $0 = loops }
    }

    func beginShutdown() {
        state.withLock { $0.shuttingDown = true }
    }

    func observeCommits(_ handler: @escaping @Sendable (Duration) -> Void) {
        state.withLock { $0.commitObserver = handler }
    }

    // MARK: - Submissions

    func accept(_ submission: Submission, replyOn eventLoop: any EventLoop) -> Acceptance {
        let promise = eventLoop.makePromise(of: TaskID.self)
        state.withLock { $0.inserts.append(Insert(row: SharedTask.row(submission), promise: promise)) }
        insertWake.signal()
        return .pending(promise.futureResult)
    }

    func acceptFiring(
        schedule: String, _ submissions: [Submission], through: Date,
        completion: @escaping @Sendable (Result<Void, StateStoreError>) -> Void
    ) {
        let rows = submissions.map(SharedTask.row)
        let (queue, logger, location) = (self.queue, self.logger, self.baseLocation)
        Task {
            do {
                let fired = try await admin.run { connection in
                    try await queue.fire(schedule: schedule, through: through, tasks: rows, on: connection)
                }
                if !fired { logger.debug("another host fired this tick", metadata: ["schedule": "\(schedule)"]) }
                completion(.success(()))
            } catch {
                completion(.failure(StateStoreError(.writeFailed, path: baseLocation, "\(error)")))
            }
        }
    }

    private func insertLoop() async {
        let link = PostgresLink(settings: settings.database, idleInTransaction: settings.lease, name: "insert", logger: logger)
        while !insertWake.isFinished {
            await insertWake.wait()
            while true {
                let batch = state.withLock { state -> [Insert] in
                    let batch = Array(state.inserts.prefix(Self.maxBatch))
                    state.inserts.removeFirst(batch.count)
                    return batch
                }
                guard !batch.isEmpty else { break }
                await insert(batch, link: link)
            }
        }
        // Accepted after the loop ended (the shutdown refuses submissions before): answered.
        let left = state.withLock { state in
            defer { state.inserts = [] }
            return state.inserts
        }
        let closed = StateStoreError(.writeFailed, path: baseLocation, "not accepted: pybgd is stopping")
        for insert in left { insert.promise.fail(closed) }
        await link.close()
    }

    /// Inserts a batch in one statement (those with a unique key one by one, each answered with
    /// its key's holder), then answers each submission: its id, or the store's failure. The two
    /// kinds are answered apart: a failure of one says nothing of the other.
    private func insert(_ batch: [Insert], link: PostgresLink) async {
        let queue = self.queue
        let plain = batch.filter { $0.row.uniqueKey == nil && $0.row.after.isEmpty }
        let unique = batch.filter { $0.row.uniqueKey != nil && $0.row.after.isEmpty }
        let dependent = batch.filter { !$0.row.after.isEmpty }
        if !plain.isEmpty {
            let rows = plain.map(\.row)
            // Idle workers here take what fits of the batch in its own statement.
            let (free, names, lease, skipping) = state.withLock { state -> (Int, [String], Duration, Set<String>) in
                guard state.leaseHealthy, !state.shuttingDown, state.running != nil, let registry = state.registry else { return (0, [], .zero, []) }
                return (max(0, settings.workers - busy(state)), registry.names, settings.lease, state.lastPaused.union(limitedQueues))
            }
            let claimedAt = ContinuousClock.now
            let claims = Mutex<[PostgresTaskQueue.Claim]>([])
            await answer(
                plain, link: link,
                { connection in
                    let mine = try await queue.insert(rows, claiming: free, names: names, lease: lease, skipping: skipping, on: connection)
                    claims.withLock { $0 = mine }
                    return [:]
                },
                before: {
                    let mine = claims.withLock { $0 }
                    if !mine.isEmpty, let running = self.state.withLock({ $0.running }) { self.hand(mine, claimedAt: claimedAt, to: running) }
                })
        }
        if !unique.isEmpty {
            let rows = unique.map(\.row)
            await answer(unique, link: link) { connection in
                var holders: [UUID: UniqueKeyHeld] = [:]
                for row in rows {
                    if case .held(let holder, let state) = try await queue.insert(unique: row, on: connection) {
                        holders[row.id] = UniqueKeyHeld(holder: TaskID(holder), state: state)
                    }
                }
                return holders
            }
        }
        if !dependent.isEmpty { await insert(dependents: dependent, link: link) }
    }

    /// Inserts tasks with prerequisites one by one, each in its transaction, and answers each: its
    /// id, its unique key's holder (``UniqueKeyHeld``), a prerequisite that matches no task or
    /// several (a ``ProtocolError`` naming it, and nothing was inserted), or the store's failure.
    private func insert(dependents: [Insert], link: PostgresLink) async {
        let queue = self.queue
        for insert in dependents {
            let row = insert.row
            do {
                let outcome = try await link.run { connection in
                    do {
                        return Result<PostgresTaskQueue.DependentInsert, PostgresTaskQueue.PrerequisiteError>.success(
                            try await queue.insert(dependent: row, on: connection))
                    } catch let refused as PostgresTaskQueue.PrerequisiteError {
                        return .failure(refused)
                    }
                }
                recovered()
                switch outcome {
                case .success(.inserted): insert.promise.succeed(TaskID(row.id))
                case .success(.held(let holder, let state)): insert.promise.fail(UniqueKeyHeld(holder: TaskID(holder), state: state))
                case .failure(let refused):
                    let error =
                        refused.matches.isEmpty
                        ? ProtocolError(.unknownID, "after=\(refused.prefix): no task has that id, on any host")
                        : ProtocolError(
                            .ambiguousID,
                            "after=\(refused.prefix) matches more than one task (\(refused.matches.map { TaskID($0).description }.joined(separator: ", ")), …); give more digits"
                        )
                    insert.promise.fail(error)
                }
            } catch {
                failed(error, doing: "insert submissions")
                insert.promise.fail(StateStoreError(.writeFailed, path: baseLocation, error.description))
            }
        }
    }

    /// Runs `write` and answers `inserts` by what it did: each its id (or, failed with
    /// ``UniqueKeyHeld``, its unique key's holder, from what `write` returns), or the failure.
    private func answer(
        _ inserts: [Insert], link: PostgresLink, _ write: @escaping @Sendable (PostgresConnection) async throws -> [UUID: UniqueKeyHeld],
        before: () -> Void = {}
    ) async {
        let started = ContinuousClock.now
        do {
            let holders = try await link.run(write)
            // What this host claimed in the statement starts before the replies go out.
            before()
            let later = inserts.count { $0.row.runAt.map { $0 > Date() } ?? false }
            state.withLock { state in
                state.insertedSinceCount.pending += inserts.count - later
                state.insertedSinceCount.scheduled += later
            }
            recovered()
            observe(ContinuousClock.now - started)
            for insert in inserts {
                if let held = holders[insert.row.id] { insert.promise.fail(held) } else { insert.promise.succeed(TaskID(insert.row.id)) }
            }
        } catch {
            failed(error, doing: "insert submissions")
            let refusal = StateStoreError(.writeFailed, path: baseLocation, error.description)
            for insert in inserts { insert.promise.fail(refusal) }
        }
    }

    // MARK: - Claims

    private func claimLoop() async {
        let (wake, upkeep, host) = (claimWake, upkeepWake, settings.host)
        let queue = self.queue
        let link = PostgresLink(settings: settings.database, idleInTransaction: settings.lease, name: "claim", logger: logger) { connection in
            try await queue.prepareHostConnection(connection)
            connection.addListener(channel: PostgresTaskQueue.wakeChannel) { _, _ in wake.signal() }
            // A stop asked of this host: the upkeep reads it now, not at its next round.
            connection.addListener(channel: PostgresTaskQueue.stopChannel) { _, notification in
                if notification.payload == host { upkeep.signal() }
            }
        }
        var backoff = Self.firstBackoff
        var throughput = PrefetchSizing(maximum: settings.prefetch)
        while !wake.isFinished {
            let (slots, names, running) = state.withLock { state -> (Int, [String], (@Sendable ([Submission]) -> Void)?) in
                let prefetch = throughput.prefetch(ended: state.endedCount, at: .now)
                let free = settings.workers + prefetch - busy(state)
                return (state.leaseHealthy && !state.shuttingDown ? free : 0, state.registry?.names ?? [], state.running)
            }
            guard slots > 0, !names.isEmpty, let running else {
                await wake.wait(timeout: settings.poll)
                continue
            }
            do {
                var claimedAt = ContinuousClock.now
                let lease = settings.lease
                let unlimited = try await link.run { connection in
                    try await queue.claimUnlimited(slots: slots, names: names, lease: lease, on: connection)
                }
                var claims = unlimited.claims
                recovered()
                backoff = Self.firstBackoff
                // Handed over before anything else: this is the latency of an idle host.
                if !claims.isEmpty { hand(claims, claimedAt: claimedAt, to: running) }
                if claims.count < slots {
                    claimedAt = ContinuousClock.now
                    let limited = try await link.run { [claimed = claims.count] connection in
                        try await queue.claimLimited(slots: slots - claimed, names: names, lease: lease, on: connection)
                    }
                    if !limited.isEmpty { hand(limited, claimedAt: claimedAt, to: running) }
                    claims += limited
                }
                state.withLock { $0.claimWasFull = claims.count == slots }
                if claims.count == slots { continue }
                // Nothing more is due: sleep until the next task is (or a notification comes).
                let wait = unlimited.secondsUntilDue.map { Duration.milliseconds(Int64(max($0, 0.001) * 1000)) }.map { min($0, settings.poll) } ?? settings.poll
                await wake.wait(timeout: wait)
            } catch {
                failed(error, doing: "claim tasks")
                await wake.wait(timeout: backoff)
                backoff = min(backoff * 2, Self.maxBackoff)
            }
        }
        await link.close()
    }

    /// The queues this host's configuration limits (another host's limits are checked by the
    /// statements).
    private var limitedQueues: Set<String> { Set(settings.queues.filter { $0.maxRunning != nil }.map(\.name)) }

    /// The held runs that take a worker or wait for one. A run whose end waits to be written holds
    /// its lease, not a worker; nor does one waiting for its next attempt (for an hour, maybe).
    private func busy(_ state: State) -> Int {
        state.held.values.count { !$0.ended && $0.future?.state != .retrying }
    }

    /// Holds the claims and hands them to the workers; one that cannot run here ends failed.
    private func hand(_ claims: [PostgresTaskQueue.Claim], claimedAt: ContinuousClock.Instant, to running: @Sendable ([Submission]) -> Void) {
        // Without a registry (never, once the daemon is built) the claims are not held: they
        // expire and are rescued, rather than renewed and never run.
        guard
            let registry = state.withLock({ state -> TaskRegistry? in
                guard let registry = state.registry else { return nil }
                for claim in claims { state.held[claim.id] = Held(claim: claim, leaseFrom: claimedAt) }
                return registry
            })
        else { return }
        var submissions: [Submission] = []
        for claim in claims {
            switch SharedTask.submission(claim, registry: registry) {
            case .success(let submission): submissions.append(submission)
            case .failure(let unrunnable):
                logger.warning("a claimed task cannot run on this host", metadata: ["id": "\(TaskID(claim.id))", "reason": "\(unrunnable.failure)"])
                end(claim, state: .failed, outcome: .failure(unrunnable.failure))
            }
        }
        if !submissions.isEmpty { running(submissions) }
        // Claimed from a queue this host last saw paused: it was resumed meanwhile (claims pass
        // paused queues over), so the pause is brought up to date now, not at the next upkeep.
        let queues = Set(submissions.map { $0.record.hasOptions ? $0.record.options.queue ?? "default" : "default" })
        if !state.withLock({ $0.lastPaused.isDisjoint(with: queues) }) { upkeepWake.signal() }
    }

    // MARK: - Starts

    func recordStart(_ id: TaskID, at startedAt: Date, attempt: Int) throws(StateStoreError) {
        guard let claim = state.withLock({ $0.held[UUID(id)]?.claim }) else {
            throw StateStoreError(.superseded, path: baseLocation, "this host no longer holds task \(id): its lease ran out and another host took it")
        }
        let start = Start(claim)
        state.withLock { $0.starts.append(start) }
        startWake.signal()
        // Its loop answers every start it takes; one that came after the loop ended is answered here.
        while start.done.wait(timeout: .now() + .seconds(1)) == .timedOut {
            let orphaned =
                startWake.isFinished
                && state.withLock { state in
                    guard let index = state.starts.firstIndex(where: { $0 === start }) else { return false }
                    state.starts.remove(at: index)
                    return true
                }
            if orphaned { start.complete(.failure(PostgresStoreError(.unavailable, "the store is closed: pybgd is stopping"))) }
        }
        switch start.outcome.withLock({ $0! }) {
        case .success(true): return
        case .success(false):
            throw StateStoreError(.superseded, path: baseLocation, "task \(id) was taken over by another host after this host's lease on it ran out")
        case .failure(let error):
            throw StateStoreError(.writeFailed, path: baseLocation, error.description)
        }
    }

    private func startLoop() async {
        let queue = self.queue
        let link = PostgresLink(settings: settings.database, idleInTransaction: settings.lease, name: "start", logger: logger) { connection in
            try await queue.prepareHostConnection(connection)
        }
        while !startWake.isFinished {
            await startWake.wait()
            while true {
                let batch = state.withLock { state -> [Start] in
                    let batch = Array(state.starts.prefix(Self.maxBatch))
                    state.starts.removeFirst(batch.count)
                    return batch
                }
                guard !batch.isEmpty else { break }
                do {
                    let claims = batch.map(\.claim)
                    let applied = try await link.run { connection in try await queue.recordStarts(claims, on: connection) }
                    recovered()
                    for start in batch { start.complete(.success(applied.contains(start.claim.id))) }
                } catch {
                    failed(error, doing: "record starts")
                    for start in batch { start.complete(.failure(error)) }
                }
            }
        }
        // Workers still waiting at the end are told the store is closed.
        let left = state.withLock { state in
            defer { state.starts = [] }
            return state.starts
        }
        for start in left { start.complete(.failure(PostgresStoreError(.unavailable, "the store is closed: pybgd is stopping"))) }
        await link.close()
    }

    // MARK: - Ends and retries

    func recordEnd(of future: Future, if shouldRecord: @escaping @Sendable (Future.Snapshot) -> Bool) {
        let id = UUID(future.id)
        state.withLock { $0.held[id]?.future = future }
        future.addDoneCallback { [self] future in
            let snapshot = future.snapshot
            guard shouldRecord(snapshot), let claim = state.withLock({ $0.held[id]?.claim }) else { return }
            end(claim, state: snapshot.state, outcome: snapshot.outcome)
        }
    }

    func recordEnd(_ id: TaskID, state endState: FutureState, startedAt: Date?, endedAt: Date, error: any Error) {
        guard let claim = state.withLock({ $0.held[UUID(id)]?.claim }) else { return }
        end(claim, state: endState, outcome: .failure(error))
    }

    private func end(_ claim: PostgresTaskQueue.Claim, state endState: FutureState, outcome: Result<any Sendable, any Error>?) {
        let (result, error) = RowJSON.outcome(outcome)
        let json = "{\"result\":\(result ?? "null"),\"error\":\(error ?? "null")}"
        let wasFull = state.withLock { state -> Bool in
            state.held[claim.id]?.ended = true
            state.endedCount += 1
            state.ends.append(PostgresTaskQueue.End(claim, state: endState.rawValue, outcome: json))
            return state.claimWasFull
        }
        endWake.signal()
        // A worker is free: the claim loop fills it (unless the queue was found empty).
        if wasFull { claimWake.signal() }
    }

    func recordRetrying(_ future: Future) {
        let snapshot = future.snapshot
        let appended = state.withLock { state -> Bool in
            guard let claim = state.held[UUID(future.id)]?.claim else { return false }
            state.retries.append((claim, RowJSON.attempts(snapshot.attempts)))
            return true
        }
        if appended { endWake.signal() }
    }

    func recordReleased(_ id: TaskID) {}

    private func endLoop() async {
        let queue = self.queue
        let link = PostgresLink(settings: settings.database, idleInTransaction: settings.lease, name: "end", logger: logger) { connection in
            try await queue.prepareHostConnection(connection)
        }
        var backoff = Self.firstBackoff
        while true {
            let (ends, retries) = state.withLock { state in
                (Array(state.ends.prefix(Self.maxBatch)), state.retries)
            }
            if ends.isEmpty && retries.isEmpty {
                if endWake.isFinished { break }
                await endWake.wait()
                continue
            }
            do {
                let started = ContinuousClock.now
                // A run's last output goes in before its end: a reader that sees it ended has it all.
                let output = finalOutput(of: ends.map(\.claim))
                let applied = try await link.run { connection -> Set<UUID> in
                    try await queue.writeOutput(output, on: connection)
                    for retry in retries { _ = try await queue.recordRetry(retry.claim, attempts: retry.attempts, on: connection) }
                    return try await queue.recordEndsAndSettle(ends, on: connection)
                }
                recovered()
                observe(ContinuousClock.now - started)
                backoff = Self.firstBackoff
                let written = Set(ends.map(\.claim.id))
                state.withLock { state in
                    state.retries.removeFirst(retries.count)
                    state.ends.removeFirst(ends.count)
                    for id in written { state.held[id] = nil }
                }
                // A queue limit or a unique key may have freed something for this host too.
                claimWake.signal()
                for end in ends where !applied.contains(end.claim.id) {
                    logger.warning(
                        "a run's end was not written: another host took the task over after this host's lease on it ran out",
                        metadata: ["id": "\(TaskID(end.claim.id))", "state": "\(end.state)"])
                }
            } catch {
                failed(error, doing: "record ends")
                // Kept, and written again: clients may have been told these ends.
                if endWake.isFinished { break }
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, Self.maxBackoff)
            }
        }
        await link.close()
    }

    // MARK: - Output

    var clusterWaiting: (pending: Int, scheduled: Int)? {
        state.withLock { state in
            let counted = state.cluster?.tasks ?? [:]
            return (
                counted["pending", default: 0] + state.insertedSinceCount.pending,
                counted["scheduled", default: 0] + state.insertedSinceCount.scheduled
            )
        }
    }

    func useOutputs(_ outputs: TaskOutputs) {
        state.withLock { $0.outputs = outputs }
    }

    /// The most output bytes one round writes: a task writing faster than that is caught up over
    /// the next rounds (its host keeps all it keeps meanwhile).
    static let outputBytesPerRound = 4 << 20

    /// Copies the output of the runs held here to the database as it grows (every half second),
    /// fenced by each run's claim, and removes there the middle this host no longer keeps.
    private func outputLoop() async {
        let queue = self.queue
        let link = PostgresLink(settings: settings.database, idleInTransaction: settings.lease, name: "output", logger: logger) { connection in
            try await queue.prepareHostConnection(connection)
        }
        while !outputWake.isFinished {
            await outputWake.wait(timeout: .milliseconds(500))
            guard let outputs = state.withLock({ $0.outputs }) else { continue }
            let running = state.withLock { state in
                state.held.values.filter { !$0.ended && $0.future != nil }.map { ($0.claim, $0.uploaded, $0.droppedUpTo) }
            }
            var budget = Self.outputBytesPerRound
            var pieces: [PostgresTaskQueue.OutputPiece] = []
            var reached: [(UUID, [StandardStream: Int])] = []
            var drops: [(PostgresTaskQueue.Claim, StandardStream, Range<Int>)] = []
            for (claim, uploaded, droppedUpTo) in running where budget > 0 {
                let (more, upTo) = Self.pieces(of: claim, from: uploaded, in: outputs, budget: &budget)
                if !more.isEmpty {
                    pieces += more
                    reached.append((claim.id, upTo))
                }
                for stream in StandardStream.allCases {
                    if let range = outputs.droppedRange(TaskID(claim.id), stream), range.upperBound > droppedUpTo[stream, default: 0] {
                        drops.append((claim, stream, range))
                    }
                }
            }
            guard !pieces.isEmpty || !drops.isEmpty else { continue }
            do {
                try await link.run { [pieces, drops] connection in
                    try await queue.writeOutput(pieces, on: connection)
                    for (claim, stream, range) in drops {
                        try await queue.dropOutput(
                            claim.id, fence: claim.fence, stream: Self.code(stream), between: Int64(range.lowerBound), and: Int64(range.upperBound),
                            on: connection)
                    }
                }
                state.withLock { state in
                    for (id, upTo) in reached { state.held[id]?.uploaded = upTo }
                    for (claim, stream, range) in drops { state.held[claim.id]?.droppedUpTo[stream] = range.upperBound }
                }
            } catch {
                failed(error, doing: "write tasks' output")
            }
        }
        await link.close()
    }

    /// What is left to write of the output of runs that ended (all of it, whatever the budget).
    private func finalOutput(of claims: [PostgresTaskQueue.Claim]) -> [PostgresTaskQueue.OutputPiece] {
        guard let outputs = state.withLock({ $0.outputs }) else { return [] }
        let uploaded = state.withLock { state in claims.map { state.held[$0.id]?.uploaded ?? [:] } }
        var budget = Int.max
        return zip(claims, uploaded).flatMap { claim, from in Self.pieces(of: claim, from: from, in: outputs, budget: &budget).pieces }
    }

    /// The output of a run written since `uploaded`, in pieces of at most 64 KiB (a middle no
    /// longer kept is passed over), up to `budget` bytes; and how far that reaches.
    private static func pieces(
        of claim: PostgresTaskQueue.Claim, from uploaded: [StandardStream: Int], in outputs: TaskOutputs, budget: inout Int
    ) -> (pieces: [PostgresTaskQueue.OutputPiece], upTo: [StandardStream: Int]) {
        let id = TaskID(claim.id)
        var pieces: [PostgresTaskQueue.OutputPiece] = []
        var upTo = uploaded
        for stream in StandardStream.allCases {
            var position = uploaded[stream, default: 0]
            reading: while budget > 0 {
                switch outputs.read(id, stream, from: position, count: min(64 << 10, budget)) {
                case .none: break reading
                case .dropped(let count): position += count
                case .bytes(let bytes):
                    pieces.append(
                        PostgresTaskQueue.OutputPiece(id: claim.id, fence: claim.fence, stream: code(stream), position: Int64(position), data: bytes))
                    position += bytes.count
                    budget -= bytes.count
                }
            }
            upTo[stream] = position
        }
        return (pieces, upTo)
    }

    private static func code(_ stream: StandardStream) -> Int16 { stream == .stdout ? 1 : 2 }

    func sharedOutput(
        _ id: TaskID, from positions: [StandardStream: Int], completion: @escaping @Sendable (Result<SharedOutput, ProtocolError>) -> Void
    ) {
        let queue = self.queue
        let from = Dictionary(uniqueKeysWithValues: positions.map { (Self.code($0.key), Int64($0.value)) })
        Task {
            do {
                let (run, pieces) = try await admin.run { connection in try await queue.output(of: UUID(id), from: from, on: connection) }
                completion(
                    .success(
                        SharedOutput(
                            run: run,
                            pieces: pieces.map { SharedOutput.Piece(stream: $0.stream == 1 ? .stdout : .stderr, position: Int($0.position), bytes: $0.data) })))
            } catch {
                completion(.failure(ProtocolError(.storeFailed, "the shared store cannot be read: \(error)")))
            }
        }
    }

    // MARK: - Leases, rescue, heartbeat

    private func upkeepLoop() async {
        let link = PostgresLink(settings: settings.database, idleInTransaction: settings.lease, name: "upkeep", logger: logger)
        let (queue, settings) = (self.queue, self.settings)
        let interval = settings.lease / 3
        while !upkeepWake.isFinished {
            let renewing = ContinuousClock.now
            do {
                let held = state.withLock { Array($0.held.keys) }
                let (renewed, stops, rescue, cluster, paused, schedules) = try await link.run {
                    connection -> (
                        Set<UUID>, [PostgresTaskQueue.StopRequest], PostgresTaskQueue.Rescue, ClusterPayload, [String],
                        [PostgresTaskQueue.RuntimeSchedule]
                    ) in
                    let renewed = Set(try await queue.renewLeases(settings.lease, only: held, on: connection))
                    let stops = try await queue.stopRequests(on: connection)
                    let rescue = try await queue.rescue(crashLimit: settings.crashLimit, on: connection)
                    // Dependents of what ended anywhere and was not settled (rescued tasks, or a
                    // host that died between an end and its settling).
                    try await queue.settle(after: nil, on: connection)
                    try await queue.heartbeat(
                        workers: settings.workers, running: held.count, version: ControlRequestHandler.version, on: connection)
                    let hosts = try await queue.hosts(on: connection).map { host in
                        ClusterPayload.Host(
                            name: host.name, silentSeconds: Double(host.silentFor.components.seconds) + Double(host.silentFor.components.attoseconds) / 1e18,
                            workers: host.workers, running: host.running, version: host.version)
                    }
                    let tasks = try await queue.liveCounts(on: connection)
                    let paused = try await queue.pausedQueues(on: connection)
                    let schedules = try await queue.runtimeSchedules(on: connection)
                    return (
                        renewed, stops, rescue, ClusterPayload(hosts: hosts, tasks: tasks, asOf: Date().timeIntervalSince1970), paused, schedules
                    )
                }
                recovered()
                let observer = state.withLock { state in
                    state.cluster = cluster
                    state.insertedSinceCount = (0, 0)
                    state.lastPaused = Set(paused)
                    return state.pausedObserver
                }
                observer?(Set(paused))
                state.withLock { $0.schedulesObserver }?(schedules.map(Self.stored))
                applyRenewal(renewed, of: held, at: renewing)
                let running = apply(stops)
                if !running.isEmpty {
                    // A CANCEL it did not honour: the run's start is recorded (a retry-safe task's
                    // is not, otherwise), so that the host that asked sees it started and says so.
                    _ = try? await link.run { connection in try await queue.recordStarts(running, on: connection) }
                }
                if !rescue.isEmpty {
                    logger.notice(
                        "rescued tasks whose host stopped renewing its lease",
                        metadata: [
                            "pending_again": "\(rescue.retried.count)", "interrupted": "\(rescue.interrupted.count)",
                            "quarantined": "\(rescue.quarantined.count)", "cancelled": "\(rescue.cancelled.count)",
                        ])
                }
            } catch {
                failed(error, doing: "renew leases")
                expireLeases(now: .now)
            }
            await upkeepWake.wait(timeout: interval)
        }
        await link.close()
    }

    /// A renewal of `sent` that began at `at` came back with `renewed`: those leases run from
    /// then; one sent and missing was taken from this host, and is stopped here.
    private func applyRenewal(_ renewed: Set<UUID>, of sent: [UUID], at: ContinuousClock.Instant) {
        let lost = state.withLock { state -> [(UUID, Future?)] in
            state.leaseHealthy = true
            var lost: [(UUID, Future?)] = []
            for id in sent {
                guard let held = state.held[id] else { continue }
                if renewed.contains(id) {
                    state.held[id]?.leaseFrom = at
                } else if !held.ended {
                    lost.append((id, held.future))
                    state.held[id] = nil
                }
            }
            return lost
        }
        stop(lost, reason: "another host took it over after this host's lease on it ran out")
    }

    /// The leases could not be renewed: tasks whose lease ran out by this host's clock are stopped
    /// (another host may rescue them at any moment), and nothing is claimed until a renewal works.
    private func expireLeases(now: ContinuousClock.Instant) {
        let lease = settings.lease
        let lost = state.withLock { state -> [(UUID, Future?)] in
            var lost: [(UUID, Future?)] = []
            for (id, held) in state.held where !held.ended && now - held.leaseFrom >= lease {
                lost.append((id, held.future))
                state.held[id] = nil
            }
            if !lost.isEmpty { state.leaseHealthy = false }
            return lost
        }
        stop(lost, reason: "this host could not renew its lease on it for \(lease) (the store is unreachable)")
    }

    /// Applies the stops other hosts asked of tasks held here, each once: KILL stops the run (or
    /// cancels it if it has not started); CANCEL cancels it unless it started meanwhile (then it
    /// runs on: CANCEL never stops a running task). A task whose future is not yet known here is
    /// tried again at the next round. Returns the claims of runs a CANCEL found started.
    private func apply(_ stops: [PostgresTaskQueue.StopRequest]) -> [PostgresTaskQueue.Claim] {
        guard !stops.isEmpty else { return [] }
        let due = state.withLock { state -> [(PostgresTaskQueue.StopRequest, Future, PostgresTaskQueue.Claim)] in
            stops.compactMap { stop in
                guard let held = state.held[stop.id], !held.ended, held.appliedStop != stop.kind, held.appliedStop != .kill,
                    let future = held.future
                else { return nil }
                state.held[stop.id]?.appliedStop = stop.kind
                return (stop, future, held.claim)
            }
        }
        var started: [PostgresTaskQueue.Claim] = []
        for (stop, future, claim) in due {
            switch stop.kind {
            case .kill:
                logger.notice("kill requested from another host", metadata: ["id": "\(future.id)", "task": "\(future.record.name)", "by": "\(stop.by)"])
                future.kill(by: stop.by)
            case .cancel:
                if !future.cancel() {
                    logger.info("a cancel came from another host after the task started; it runs on", metadata: ["id": "\(future.id)", "by": "\(stop.by)"])
                    started.append(claim)
                }
            }
        }
        return started
    }

    private func stop(_ lost: [(UUID, Future?)], reason: String) {
        guard !lost.isEmpty else { return }
        logger.warning(
            "stopping tasks this host no longer holds", metadata: ["tasks": "\(lost.count)", "reason": "\(reason)"])
        for (_, future) in lost { _ = future?.kill(by: "pybgd: \(reason)") }
    }

    // MARK: - The cluster's view

    var cluster: ClusterPayload? { state.withLock { $0.cluster } }

    func lookUp(_ idOrPrefix: String, completion: @escaping @Sendable (Result<FuturePayload?, ProtocolError>) -> Void) {
        let prefix = idOrPrefix.lowercased()
        guard !prefix.isEmpty, prefix.count <= 32, prefix.allSatisfy(\.isHexDigit) else {
            return completion(.failure(ProtocolError(.unknownID, "\"\(idOrPrefix)\" is not a task id (32 hex digits, or a unique prefix of one)")))
        }
        let (queue, registry) = (self.queue, state.withLock { $0.registry })
        Task {
            do {
                let rows = try await admin.run { connection in try await queue.rows(idPrefix: prefix, limit: 6, on: connection) }
                switch rows.count {
                case 0: completion(.success(nil))
                case 1: completion(.success(SharedTask.payload(rows[0], registry: registry)))
                default:
                    let shown = rows.prefix(5).map { TaskID($0.id).description }.joined(separator: ", ")
                    completion(
                        .failure(
                            ProtocolError(.ambiguousID, "\(prefix) matches more than one task (\(shown)\(rows.count > 5 ? ", …" : "")); give more digits")))
                }
            } catch {
                completion(.failure(ProtocolError(.storeFailed, "the shared store cannot be read: \(error)")))
            }
        }
    }

    func requestStop(_ id: TaskID, _ stop: RemoteStop, completion: @escaping @Sendable (Result<RemoteStop.Outcome, ProtocolError>) -> Void) {
        let queue = self.queue
        let (kind, who, error): (PostgresTaskQueue.StopKind, String, (code: String, message: String)) =
            switch stop {
            case .cancel: (.cancel, "a client of host \(settings.host)", ("cancelled", "task \(id) was cancelled before it ran"))
            case .kill(let by): (.kill, "\(by) on host \(settings.host)", ("killed", "cancelled before it ran: killed by \(by) on host \(settings.host)"))
            }
        Task {
            do {
                let outcome = try await admin.run { connection in
                    let outcome = try await queue.requestStop(UUID(id), kind, by: who, error: error, on: connection)
                    if outcome == .cancelled { try await queue.settle(after: [UUID(id)], on: connection) }
                    return outcome
                }
                switch outcome {
                case .cancelled: completion(.success(.cancelled))
                case .asked(let host): completion(.success(.asked(host: host)))
                case .refused: completion(.success(.refused))
                }
            } catch {
                completion(.failure(ProtocolError(.storeFailed, "the shared store cannot be written: \(error)")))
            }
        }
    }

    func clusterPage(offset: Int, limit: Int, states: Set<String>) async -> Result<ClusterTable, ProtocolError> {
        let (queue, registry) = (self.queue, state.withLock { $0.registry })
        do {
            let (rows, matched) = try await admin.run { connection in
                try await queue.page(offset: offset, limit: limit, states: states.sorted(), on: connection)
            }
            return .success(ClusterTable(futures: rows.map { SharedTask.payload($0, registry: registry) }, total: matched))
        } catch {
            return .failure(ProtocolError(.storeFailed, "the shared store cannot be read: \(error)"))
        }
    }

    // MARK: - Queues, schedules, retention

    func pausedQueues() -> [String] { pausedAtStart }

    /// Called after each upkeep (every third of the lease) with the queues paused now.
    func observePausedQueues(_ handler: @escaping @Sendable (Set<String>) -> Void) {
        state.withLock { $0.pausedObserver = handler }
    }

    func recordQueue(_ name: String, paused: Bool, completion: @escaping @Sendable (Result<Void, StateStoreError>) -> Void) {
        let (queue, location) = (self.queue, self.baseLocation)
        Task {
            do {
                try await admin.run { connection in try await queue.setPaused(name, paused, on: connection) }
                // Known here at once (the next upkeep reads every host's pauses).
                state.withLock { state in
                    if paused { state.lastPaused.insert(name) } else { state.lastPaused.remove(name) }
                }
                completion(.success(()))
            } catch {
                completion(.failure(StateStoreError(.writeFailed, path: baseLocation, "\(error)")))
            }
        }
    }

    /// The schedules added at run time, the cluster's (each host's config schedules are its own:
    /// the database keeps only how far each has fired, so that of the hosts firing a tick one
    /// inserts its task).
    func recoverSchedules() throws(StateStoreError) -> [StoredSchedule] {
        let (queue, admin) = (self.queue, self.admin)
        do {
            return try Blocking.run { try await admin.run { connection in try await queue.runtimeSchedules(on: connection) } }
                .map(Self.stored)
        } catch {
            throw StateStoreError(.unreadable, path: baseLocation, "the schedules cannot be read: \(error)")
        }
    }

    private static func stored(_ schedule: PostgresTaskQueue.RuntimeSchedule) -> StoredSchedule {
        StoredSchedule(
            name: schedule.name, definition: schedule.definition, origin: .runtime, paused: schedule.paused, createdAt: schedule.createdAt,
            lastTick: schedule.through)
    }

    /// Called after each upkeep with the schedules added at run time as the database has them.
    func observeSchedules(_ handler: @escaping @Sendable ([StoredSchedule]) -> Void) {
        state.withLock { $0.schedulesObserver = handler }
    }

    /// The latest tick each schedule was fired through, by any host.
    func scheduleProgress() throws(StateStoreError) -> [String: Date] {
        let (queue, admin) = (self.queue, self.admin)
        do {
            return try Blocking.run { try await admin.run { connection in try await queue.scheduleProgress(on: connection) } }
        } catch {
            throw StateStoreError(.unreadable, path: baseLocation, "the schedules' progress cannot be read: \(error)")
        }
    }

    /// A schedule added, paused or removed through the protocol is the cluster's: written for every
    /// host to follow. A config schedule's changes stay with its host's config.
    func record(_ change: ScheduleChange, completion: @escaping @Sendable (Result<Void, StateStoreError>) -> Void) {
        let (queue, location) = (self.queue, self.baseLocation)
        if case .save(let stored, _) = change, stored.origin == .config { return completion(.success(())) }
        Task {
            do {
                try await admin.run { connection in
                    switch change {
                    case .save(let stored, _):
                        let schedule = PostgresTaskQueue.RuntimeSchedule(
                            name: stored.name, definition: stored.definition, paused: stored.paused, createdAt: stored.createdAt, through: stored.lastTick)
                        guard try await queue.addSchedule(schedule, on: connection) else {
                            throw StateStoreError(
                                .writeFailed, path: location,
                                "a schedule named \"\(stored.name)\" exists on another host of the cluster (added there, or in its config)")
                        }
                    case .pause(let name, let paused, let resumedAt):
                        try await queue.pauseSchedule(name, paused: paused, resumedAt: resumedAt, on: connection)
                    case .remove(let name):
                        try await queue.removeSchedule(name, on: connection)
                    }
                }
                completion(.success(()))
            } catch {
                completion(.failure(StateStoreError(.writeFailed, path: location, "\(error)")))
            }
        }
    }

    func removeTasks(_ ids: [TaskID], completion: @escaping @Sendable (Result<Set<TaskID>, StateStoreError>) -> Void) {
        remove(ids.map(UUID.init), before: nil, completion: completion)
    }

    func removeEnded(before cutoff: Date, completion: @escaping @Sendable (Result<Set<TaskID>, StateStoreError>) -> Void) {
        remove(nil, before: cutoff, completion: completion)
    }

    /// Removes ended rows of the cluster; `completion` gets the ids whose end this host has not
    /// written yet (they stay).
    private func remove(_ ids: [UUID]?, before cutoff: Date?, completion: @escaping @Sendable (Result<Set<TaskID>, StateStoreError>) -> Void) {
        let (queue, location) = (self.queue, self.baseLocation)
        Task {
            do {
                _ = try await admin.run { connection in try await queue.removeEnded(ids, before: cutoff, on: connection) }
                let unwritten = state.withLock { state in Set(state.held.values.filter(\.ended).map { TaskID($0.claim.id) }) }
                completion(.success(unwritten))
            } catch {
                completion(.failure(StateStoreError(.writeFailed, path: baseLocation, "\(error)")))
            }
        }
    }

    func keepEnded(_ count: Int) {
        let (queue, logger) = (self.queue, self.logger)
        Task {
            do {
                try await admin.run { connection in try await queue.keepEnded(count, on: connection) }
            } catch {
                logger.warning("retention by count could not run", metadata: ["error": "\(error)"])
            }
        }
    }

    // MARK: - Closing

    func flush() {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline && state.withLock({ !$0.ends.isEmpty || !$0.inserts.isEmpty || !$0.retries.isEmpty }) {
            usleep(5000)
        }
    }

    /// Gives back what was claimed and never started, writes the ends (trying for up to
    /// `patience`), stops the loops and closes the connections. Returns the tasks whose end could
    /// not be written: their rows still say they run, and a rescue decides (at once when this
    /// host starts again).
    func close(retrying patience: Duration) -> [TaskID] {
        state.withLock { $0.shuttingDown = true }
        insertWake.finish()
        claimWake.finish()
        let unstarted = state.withLock { state in
            state.held.values.filter { held in
                !held.ended && (held.future.map { $0.snapshot.startedAt == nil && !$0.state.isDone } ?? true)
            }.map(\.claim)
        }
        let (queue, logger) = (self.queue, self.logger)
        if !unstarted.isEmpty {
            let released = try? Blocking.run { [admin] in
                try await admin.run { connection in try await queue.release(unstarted, on: connection) }
            }
            logger.info("gave back tasks claimed and not started", metadata: ["tasks": "\(released?.count ?? 0) of \(unstarted.count)"])
            state.withLock { state in for claim in unstarted where released?.contains(claim.id) == true { state.held[claim.id] = nil } }
        }
        let deadline = ContinuousClock.now + patience
        while ContinuousClock.now < deadline && state.withLock({ !$0.ends.isEmpty || !$0.retries.isEmpty }) {
            usleep(5000)
        }
        let unwritten = state.withLock { state in state.ends.map { TaskID($0.claim.id) } }
        endWake.finish()
        startWake.finish()
        upkeepWake.finish()
        outputWake.finish()
        let loops = self.loops.withLock { $0 }
        _ = try? Blocking.run { [admin] in
            for loop in loops { await loop.value }
            await admin.close()
        }
        return unwritten
    }

    // MARK: - Health

    private func recovered() {
        let outage = state.withLock { state in
            defer { state.outage = nil }
            return state.outage
        }
        if let outage {
            logger.notice("the PostgreSQL store answers again", metadata: ["down_since": "\(Self.clockTime(outage.since))"])
        }
    }

    private func failed(_ error: PostgresStoreError, doing what: String) {
        let first = state.withLock { state -> Bool in
            defer { if state.outage == nil { state.outage = (Date(), error.description) } }
            return state.outage == nil
        }
        if first {
            logger.error("the PostgreSQL store cannot be used; retrying with backoff", metadata: ["doing": "\(what)", "error": "\(error)"])
        } else {
            logger.debug("the PostgreSQL store still cannot be used", metadata: ["doing": "\(what)", "error": "\(error)"])
        }
    }

    private func observe(_ duration: Duration) {
        state.withLock { $0.commitObserver }?(duration)
    }

    private static func clockTime(_ date: Date) -> String {
        date.ISO8601Format()
    }

    /// The most submissions, starts or ends in one statement.
    static let maxBatch = 2000
    static let firstBackoff = Duration.milliseconds(100)
    static let maxBackoff = Duration.seconds(5)
}
