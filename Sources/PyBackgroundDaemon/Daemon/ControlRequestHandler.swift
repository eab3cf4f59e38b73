import Logging
import NIOCore
import PyBackground
import PyBackgroundProtocol
import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// What each verb does: the daemon's behaviour behind the protocol, one method per verb.
/// Runs on the event loop, so nothing here blocks: WAIT and SHUTDOWN-wait reply through futures.
final class ControlRequestHandler: Sendable {
    static let version = PyBackgroundVersion.current

    let scheduler: Scheduler
    let launcher: TaskLauncher
    let schedules: ScheduleBook
    let registry: Mutex<TaskRegistry>
    private let maxPending: Int
    private let maxScheduled: Int
    /// How long a KILL waits for a running task to end before it answers `still-running`.
    let killGraceSeconds: Double
    /// How each EVENTS reader is buffered.
    let eventSettings: DaemonConfiguration.Events
    let logger: Logger
    private let startedAt = ContinuousClock.now
    private let shuttingDown = Atomic<Bool>(false)
    private let requestShutdown: @Sendable () -> Void
    /// Set once the server exists (it needs this handler first).
    let connectionCount = Mutex(ConnectionCountSource { 0 })

    /// Where STATUS reads the number of open connections. A struct, not a bare closure: a closure
    /// stored in a generic box is re-wrapped in a thunk at each `inout` access, so every STATUS
    /// would have made the next one slower (found by the fuzz test: the event loop hung after
    /// some 100,000 STATUS requests).
    struct ConnectionCountSource: Sendable {
        let count: @Sendable () -> Int
    }

    init(
        launcher: TaskLauncher, schedules: ScheduleBook, registry: TaskRegistry, maxPending: Int, maxScheduled: Int,
        killGraceSeconds: Double = 10, eventSettings: DaemonConfiguration.Events = .init(), logger: Logger,
        requestShutdown: @escaping @Sendable () -> Void
    ) {
        self.killGraceSeconds = killGraceSeconds
        self.eventSettings = eventSettings
        self.scheduler = launcher.scheduler
        self.launcher = launcher
        self.schedules = schedules
        self.registry = Mutex(registry)
        self.maxPending = maxPending
        self.maxScheduled = maxScheduled
        self.logger = logger
        self.requestShutdown = requestShutdown
    }

    /// Refuses submissions from now on; the shutdown path calls it first.
    func beginShutdown() { shuttingDown.store(true, ordering: .releasing) }

    var isShuttingDown: Bool { shuttingDown.load(ordering: .acquiring) }

    /// Wakes sleeping workers for tasks started with ``WorkerWake/afterRead``.
    func wakeWorkers() { launcher.wakeWorkers() }

    /// The next firings of the schedules, soonest first.
    func upcomingFirings(_ limit: Int) -> [(name: String, at: Date)] { schedules.upcoming(limit) }

    /// Swaps in a new registry (reload): later submissions see it, accepted ones keep theirs.
    func replaceRegistry(_ new: TaskRegistry) { registry.withLock { $0 = new } }

    /// Evaluates a request; a task it starts wakes a worker as `wake` says.
    func handle(_ request: Request, connection: ConnectionInfo, eventLoop: any EventLoop, wake: WorkerWake = .now) -> ControlReply {
        switch request {
        case .ping: .now(ok(PingPayload(pid: getpid(), version: Self.version)))
        case .submit(let task, let arguments, let options):
            submit(task, arguments, options: options, connection: connection, eventLoop: eventLoop, wake: wake)
        case .status: .now(ok(status()))
        case .tasks(let limit) where launcher.persistence.sharedByHosts: sharedTable(.tasks(limit: limit), eventLoop: eventLoop)
        case .futures(let limit) where launcher.persistence.sharedByHosts: sharedTable(.futures(limit: limit), eventLoop: eventLoop)
        case .latest where launcher.persistence.sharedByHosts: sharedTable(.latest, eventLoop: eventLoop)
        case .tasks(let limit): .now(tasks(limit))
        case .futures(let limit): .now(futures(limit))
        case .latest: .now(ok(LatestPayload(latestID: scheduler.latestID?.description)))
        case .result(let id):
            switch resolve(id) {
            case .success(let future): .now(ok(FuturePayload(future)))
            case .failure(let error) where triesSharedStore(after: error): sharedResult(id, eventLoop: eventLoop)
            case .failure(let error): .now(Response(error))
            }
        case .wait(let id, let timeout): wait(id, timeout: timeout, eventLoop: eventLoop)
        case .cancel(let id):
            switch resolve(id) {
            case .failure(let error) where triesSharedStore(after: error): sharedStop(id, .cancel, eventLoop: eventLoop)
            default: .now(cancel(id))
            }
        case .kill(let id): kill(id, connection: connection, eventLoop: eventLoop)
        case .retry(let id): retry(id, connection: connection, eventLoop: eventLoop)
        case .remove(let ids): remove(ids, eventLoop: eventLoop)
        case .queues: .now(ok(QueuesPayload(queues: queuePayloads)))
        case .pauseQueue(let name): setPaused(name, true, eventLoop: eventLoop)
        case .resumeQueue(let name): setPaused(name, false, eventLoop: eventLoop)
        case .list: .now(ok(ListPayload(tasks: registry.withLock { $0.tasks }.map(\.payload))))
        case .clean(let seconds): clean(olderThan: seconds, eventLoop: eventLoop)
        case .shutdown(let wait): shutdown(wait: wait, connection: connection, eventLoop: eventLoop)
        case .schedule(let request): schedule(request, eventLoop: eventLoop)
        case .log(let id, let streams): output(of: [id], streams: streams, following: false, eventLoop: eventLoop)
        case .follow(let ids, let streams): output(of: ids, streams: streams, following: true, eventLoop: eventLoop)
        case .events(let filter): events(filter, eventLoop: eventLoop)
        case .help: .now(ok(HelpPayload()))
        }
    }

    private func schedule(_ request: ScheduleRequest, eventLoop: any EventLoop) -> ControlReply {
        switch request {
        case .list: return .now(ok(SchedulesPayload(schedules: schedules.all)))
        case .show(let name):
            guard let payload = schedules.payload(name) else {
                return .now(.error(.unknownID, "no schedule named \"\(name)\"; SCHEDULE LIST shows them"))
            }
            return .now(ok(payload))
        case .add, .pause, .resume, .remove:
            if isShuttingDown { return .now(.error(.shuttingDown, "the daemon is shutting down and changes no schedule")) }
            let promise = eventLoop.makePromise(of: Response.self)
            let reply: @Sendable (Result<SchedulePayload, ProtocolError>) -> Void = { result in
                switch result {
                case .success(let payload): promise.succeed(self.ok(payload))
                case .failure(let error): promise.succeed(Response(error))
                }
            }
            switch request {
            case .add(let name, let spec): schedules.add(name, spec, reply: reply)
            case .pause(let name): schedules.setPaused(name, true, reply: reply)
            case .resume(let name): schedules.setPaused(name, false, reply: reply)
            case .remove(let name): schedules.remove(name, reply: reply)
            case .list, .show: break
            }
            return .later(promise.futureResult)
        }
    }

    // MARK: - Verbs

    func submit(
        _ name: String, _ words: [String], options: SubmitOptions, connection: ConnectionInfo, eventLoop: any EventLoop, wake: WorkerWake
    ) -> ControlReply {
        guard !isShuttingDown else {
            return .now(.error(.shuttingDown, "the daemon is shutting down and accepts no new tasks"))
        }
        let registry = registry.withLock { $0 }
        guard let task = registry[name] else {
            return .now(.error(.unknownTask, "no task named \"\(name)\"; registered: \(registry.names.joined(separator: ", "))"))
        }
        let arguments: BoundArguments
        do {
            arguments = try BoundArguments.bind(words, to: task.parameters, task: name)
        } catch {
            return .now(.error(ErrorCode(error.code.rawValue), error.message))
        }
        let runAt: Date?
        // Only a timed submission reads the clock and the zone: TimeZone.current is not free, and
        // SUBMIT is the hot path.
        switch options.timing.map({ SubmissionTime.runAt($0, now: Date(), zone: .current) }) {
        case nil: runAt = nil
        case .success(let time)?: runAt = time
        case .failure(let error)?: return .now(Response(error))
        }
        if runAt == nil {
            let pending = launcher.pendingCount
            guard pending < maxPending else {
                return .now(.error(.queueFull, "\(pending) tasks are waiting, the configured maximum (scheduler.max_pending); try again later"))
            }
        } else {
            let scheduled = launcher.scheduledCount
            guard scheduled < maxScheduled else {
                return .now(
                    .error(.queueFull, "\(scheduled) tasks wait for their time, the configured maximum (scheduler.max_scheduled); try again later"))
            }
        }
        var after: [TaskID] = []
        if !options.isEmpty {
            if let refusal = checkFlow(options, task: task) { return .now(refusal) }
            // A shared store resolves them itself, among the tasks of every host.
            for prefix in options.after where !launcher.persistence.sharedByHosts {
                switch resolve(prefix) {
                case .success(let future): after.append(future.id)
                case .failure(let error):
                    return .now(.error(error.code, "after=\(prefix): \(error.message); a task can only run after tasks the tables hold"))
                }
            }
        }
        switch launcher.submit(task, arguments, words: words, runAt: runAt, options: options, after: after, replyOn: eventLoop, wake: wake) {
        case .accepted(let id):
            return .now(Self.accepted(id, task: name, runAt: runAt, connection: connection))
        case .refused(let error):
            return .now(Response(error))
        case .existing(let id, let state):
            return .now(.ok(ProtocolJSON.encode(SubmitPayload(id: id.description, task: name, existing: true, state: state.rawValue))))
        case .existingPending(let id):
            return .durable(
                DurableReply(id) { result in
                    switch result {
                    case .success(let id): .ok(ProtocolJSON.encode(SubmitPayload(id: id.description, task: name, existing: true, state: "pending")))
                    case .failure(let held as UniqueKeyHeld):
                        .ok(ProtocolJSON.encode(SubmitPayload(id: held.holder.description, task: name, existing: true, state: held.state)))
                    case .failure(let error): .error(.storeFailed, "the task was not accepted: \(error)")
                    }
                })
        case .pending(let id):
            // Acknowledged once the store has it; the requests after it are read meanwhile.
            return .durable(
                DurableReply(id) { result in
                    switch result {
                    case .success(let id): Self.accepted(id, task: name, runAt: runAt, connection: connection)
                    case .failure(let held as UniqueKeyHeld):
                        .ok(ProtocolJSON.encode(SubmitPayload(id: held.holder.description, task: name, existing: true, state: held.state)))
                    case .failure(let refused as ProtocolError): Response(refused)
                    case .failure(let error): .error(.storeFailed, "the task was not accepted: \(error)")
                    }
                })
        }
    }

    /// The reply to an accepted submission, logged in the connection's audit.
    static func accepted(_ id: TaskID, task: String, runAt: Date?, connection: ConnectionInfo) -> Response {
        connection.audit.record(id, task: task)
        return .ok(SubmitPayload(id: id.description, task: task, runAt: runAt?.timeIntervalSince1970).json)
    }

    private func clean(olderThan seconds: Double?, eventLoop: any EventLoop) -> ControlReply {
        let promise = eventLoop.makePromise(of: Response.self)
        launcher.clean(endedBefore: seconds.map { Date(timeIntervalSinceNow: -$0) }) { result in
            switch result {
            case .success(let removed): promise.succeed(self.ok(CleanPayload(removed: removed)))
            case .failure(let error): promise.succeed(Response(error))
            }
        }
        return .later(promise.futureResult)
    }

    func status() -> StatusPayload {
        let statistics = scheduler.statistics
        let uptime = ContinuousClock.now - startedAt
        var payload = StatusPayload(
            version: Self.version, pid: getpid(), stopped: scheduler.stopped, shuttingDown: isShuttingDown,
            latestID: scheduler.latestID?.description, workers: scheduler.maxWorkers,
            submitted: statistics.submitted, scheduled: statistics.scheduled, waiting: statistics.waiting, pending: statistics.pending,
            running: statistics.running, retrying: statistics.retrying,
            finished: statistics.finished, failed: statistics.failed, cancelled: statistics.cancelled,
            interrupted: statistics.interrupted,
            retained: scheduler.futures.count, connections: connectionCount.withLock { $0 }.count(),
            uptimeSeconds: uptime.secondsAsDouble,
            stateStore: launcher.persistence.location,
            nextFirings: schedules.upcoming(5).map { StatusPayload.UpcomingFiring(schedule: $0.name, at: $0.at.timeIntervalSince1970) },
            queues: queuePayloads)
        payload.cluster = launcher.persistence.cluster
        return payload
    }

    private func tasks(_ limit: Request.Limit) -> Response {
        let table = scheduler.tasks
        // Row by row: a whole table's payload and encoder tree took several times the reply's size.
        return .ok(TasksPayload.json(tasks: rows(table, limit).lazy.map { TaskPayload($0.value) }, total: table.count))
    }

    private func futures(_ limit: Request.Limit) -> Response {
        let table = scheduler.futures
        let now = Date()
        return .ok(FuturesPayload.json(futures: rows(table, limit).lazy.map { FuturePayload($0.value, now: now) }, total: table.count))
    }

    private func rows<Value>(_ table: SchedulerTable<Value>, _ limit: Request.Limit) -> [SchedulerTable<Value>.Element] {
        switch limit {
        case .all: Array(table)
        case .mostRecent(let count): table.recent(count)
        }
    }

    private func wait(_ id: String, timeout: Double?, eventLoop: any EventLoop) -> ControlReply {
        let future: Future
        switch resolve(id) {
        case .failure(let error) where triesSharedStore(after: error): return sharedWait(id, timeout: timeout, eventLoop: eventLoop)
        case .failure(let error): return .now(Response(error))
        case .success(let found): future = found
        }
        if future.isDone { return .now(ok(FuturePayload(future))) }
        return replyWhenEnded(future, within: timeout, eventLoop: eventLoop) {
            .error(.timedOut, "task \(future.id) has not ended after \(timeout ?? 0) s; it is \(future.state)")
        }
    }

    /// The future's payload once it has ended, or `late()` if `seconds` (nil: no limit) pass
    /// first: WAIT's reply, and KILL's.
    func replyWhenEnded(
        _ future: Future, within seconds: Double?, eventLoop: any EventLoop, late: @escaping @Sendable () -> Response
    ) -> ControlReply {
        let promise = eventLoop.makePromise(of: Response.self)
        let answered = OnceFlag()
        let answer: @Sendable (Response) -> Void = { response in
            guard answered.claim() else { return }
            promise.succeed(response)
        }
        if let seconds {
            let timer = eventLoop.scheduleTask(in: .nanoseconds(Int64(min(seconds, 1e9) * 1e9))) { answer(late()) }
            promise.futureResult.whenComplete { _ in timer.cancel() }
        }
        future.addDoneCallback { ended in answer(self.ok(FuturePayload(ended))) }
        return .later(promise.futureResult)
    }

    private func cancel(_ id: String) -> Response {
        withFuture(id) { future in
            // A task cancelled already has ended, like a finished one: not-pending, the same answer.
            guard [.pending, .scheduled, .waiting, .retrying].contains(future.state), future.cancel() else {
                return .error(
                    .notPending,
                    "task \(future.id) is \(future.state); only a scheduled, waiting, pending or retrying task can be cancelled (KILL stops a running one)"
                )
            }
            return ok(FuturePayload(future))
        }
    }

    private func shutdown(wait: Bool, connection: ConnectionInfo, eventLoop: any EventLoop) -> ControlReply {
        let before = scheduler.statistics
        logger.notice(
            "shutdown requested by a client",
            metadata: [
                "wait": "\(wait)", "uid": "\(connection.peer.uid)", "pid": "\(connection.peer.pid)",
            ])
        requestShutdown()
        guard wait else {
            return .now(ok(ShutdownPayload(waited: false, pending: before.pending, running: before.running)))
        }
        let promise = eventLoop.makePromise(of: Response.self)
        let scheduler = self.scheduler
        promise.completeWithTask {
            await scheduler.awaitTermination()
            let after = scheduler.statistics
            return self.ok(ShutdownPayload(waited: true, pending: after.pending, running: after.running))
        }
        return .later(promise.futureResult)
    }

    // MARK: - Ids

    /// An id, or a unique prefix of one, to its future.
    func resolve(_ text: String) -> Result<Future, ProtocolError> {
        let futures = scheduler.futures
        if let id = TaskID(text) {
            guard let future = futures[id] else { return .failure(ProtocolError(.unknownID, "no task has id \(text)")) }
            return .success(future)
        }
        let prefix = text.lowercased()
        guard !prefix.isEmpty, prefix.count < 32, prefix.allSatisfy(\.isHexDigit) else {
            return .failure(ProtocolError(.unknownID, "\"\(text)\" is not a task id (32 hex digits, or a unique prefix of one)"))
        }
        var matches: [Future] = []
        for (id, future) in futures where id.description.hasPrefix(prefix) {
            matches.append(future)
            if matches.count > 5 { break }
        }
        switch matches.count {
        case 0: return .failure(ProtocolError(.unknownID, "no task id starts with \(prefix)"))
        case 1: return .success(matches[0])
        default:
            let shown = matches.prefix(5).map(\.id.description).joined(separator: ", ")
            return .failure(ProtocolError(.ambiguousID, "\(prefix) matches more than one task (\(shown)\(matches.count > 5 ? ", …" : "")); give more digits"))
        }
    }

    func withFuture(_ id: String, _ body: (Future) -> Response) -> Response {
        switch resolve(id) {
        case .failure(let error): Response(error)
        case .success(let future): body(future)
        }
    }

    func ok<Payload: Encodable>(_ payload: Payload) -> Response {
        .ok(ProtocolJSON.encode(payload))
    }
}
