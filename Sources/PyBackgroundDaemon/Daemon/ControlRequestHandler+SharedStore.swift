import NIOCore
import PyBackground
import PyBackgroundProtocol
import Synchronization

/// RESULT, WAIT, CANCEL and KILL of a task this host's tables do not hold, in a store several
/// hosts share: a task submitted here and run elsewhere, or submitted elsewhere; TASKS, FUTURES
/// and LATEST of the whole cluster.
extension ControlRequestHandler {
    /// LOG and FOLLOW of tasks of which one at least this host does not hold: all are read from
    /// the shared store (``SharedOutputFollow``), once each id is looked up there.
    func sharedOutput(of ids: [String], streams: OutputSelection, following: Bool, eventLoop: any EventLoop) -> ControlReply {
        let promise = eventLoop.makePromise(of: StreamStart.self)
        let persistence = launcher.persistence
        // Looked up together; the last answer starts the stream (or the first failure refuses it).
        let found = Mutex<(ids: [TaskID?], left: Int)>((Array(repeating: nil, count: ids.count), ids.count))
        let answered = OnceFlag()
        for (index, id) in ids.enumerated() {
            persistence.lookUp(id) { result in
                switch result {
                case .failure(let error):
                    if answered.claim() { promise.succeed(.refused(Response(error))) }
                case .success(nil):
                    if answered.claim() { promise.succeed(.refused(Self.unknown(id))) }
                case .success(let payload?):
                    let all = found.withLock { found -> [TaskID]? in
                        found.ids[index] = TaskID(payload.id)
                        found.left -= 1
                        return found.left == 0 ? found.ids.compactMap { $0 } : nil
                    }
                    guard let all, answered.claim() else { return }
                    var unique: [TaskID] = []
                    for id in all where !unique.contains(id) { unique.append(id) }
                    let header = ProtocolJSON.encode(FollowPayload(ids: unique.map(\.description)))
                    promise.succeed(
                        .stream(header) { [unique] in
                            SharedOutputFollow(unique, streams: streams, following: following, persistence: persistence, eventLoop: eventLoop)
                        })
                }
            }
        }
        return .laterStream(promise.futureResult)
    }

    /// TASKS, FUTURES and LATEST: read from the shared store, whichever host ran the tasks.
    func sharedTable(_ request: Request, eventLoop: any EventLoop) -> ControlReply {
        let limit: Request.Limit
        switch request {
        case .tasks(let given), .futures(let given): limit = given
        default: limit = .mostRecent(1)
        }
        let promise = eventLoop.makePromise(of: Response.self)
        let count = if case .mostRecent(let count) = limit { count } else { Int.max }
        let persistence = launcher.persistence
        promise.completeWithTask {
            switch await persistence.clusterPage(offset: 0, limit: count, states: []) {
            case .failure(let error): return Response(error)
            case .success(let table):
                // The page is newest first; the tables list the oldest first.
                let futures = Array(table.futures.reversed())
                switch request {
                case .tasks: return .ok(TasksPayload.json(tasks: futures.lazy.map(TaskPayload.init), total: table.total))
                case .futures: return .ok(FuturesPayload.json(futures: futures, total: table.total))
                default: return self.ok(LatestPayload(latestID: futures.last?.id))
                }
            }
        }
        return .later(promise.futureResult)
    }

    /// Whether a failed look-up in this host's tables is to be tried in the shared store.
    func triesSharedStore(after error: ProtocolError) -> Bool {
        error.code == .unknownID && launcher.persistence.sharedByHosts
    }

    func sharedResult(_ id: String, eventLoop: any EventLoop) -> ControlReply {
        let promise = eventLoop.makePromise(of: Response.self)
        launcher.persistence.lookUp(id) { result in
            switch result {
            case .success(let payload?): promise.succeed(self.ok(payload))
            case .success(nil): promise.succeed(Self.unknown(id))
            case .failure(let error): promise.succeed(Response(error))
            }
        }
        return .later(promise.futureResult)
    }

    /// Polls the shared store until the task has ended, or `timeout` passed.
    func sharedWait(_ id: String, timeout: Double?, eventLoop: any EventLoop) -> ControlReply {
        let promise = eventLoop.makePromise(of: Response.self)
        pollShared(
            id, deadline: Self.deadline(timeout), promise: promise, eventLoop: eventLoop,
            answer: { payload in FutureState(rawValue: payload.state)?.isDone ?? true ? self.ok(payload) : nil },
            late: { payload in .error(.timedOut, "task \(payload.id) has not ended after \(timeout ?? 0) s; it is \(payload.state)") })
        return .later(promise.futureResult)
    }

    /// CANCEL or KILL of a task this host does not hold: a task no host holds is cancelled in the
    /// store at once; the host that holds one is asked to stop it, and the reply comes once the
    /// store shows it ended (or, for CANCEL, started: then it was not cancelled), or after the
    /// kill grace.
    func sharedStop(_ id: String, _ stop: RemoteStop, eventLoop: any EventLoop) -> ControlReply {
        let promise = eventLoop.makePromise(of: Response.self)
        let persistence = launcher.persistence
        persistence.lookUp(id) { found in
            switch found {
            case .failure(let error): return promise.succeed(Response(error))
            case .success(nil): return promise.succeed(Self.unknown(id))
            case .success(let payload?):
                if let refusal = Self.refusal(of: stop, payload) { return promise.succeed(refusal) }
                guard let taskID = TaskID(payload.id) else { return promise.succeed(Self.unknown(id)) }
                persistence.requestStop(taskID, stop) { outcome in
                    switch outcome {
                    case .failure(let error): promise.succeed(Response(error))
                    case .success(.asked(let host)): self.awaitStop(payload.id, stop, holder: host, promise: promise, eventLoop: eventLoop)
                    case .success(.cancelled), .success(.refused):
                        // Cancelled now, or it ended or started meanwhile: the row says which.
                        persistence.lookUp(payload.id) { now in
                            switch now {
                            case .failure(let error): promise.succeed(Response(error))
                            case .success(nil): promise.succeed(Self.unknown(id))
                            case .success(let ended?): promise.succeed(Self.refusal(of: stop, ended, unlessCancelled: true) ?? self.ok(ended))
                            }
                        }
                    }
                }
            }
        }
        return .later(promise.futureResult)
    }

    private func awaitStop(_ id: String, _ stop: RemoteStop, holder: String, promise: EventLoopPromise<Response>, eventLoop: any EventLoop) {
        let grace = killGraceSeconds
        logger.notice("stop asked of the host that holds the task", metadata: ["id": "\(id)", "holder": "\(holder)", "stop": "\(stop)"])
        pollShared(
            id, deadline: Self.deadline(grace), promise: promise, eventLoop: eventLoop,
            answer: { payload in
                if FutureState(rawValue: payload.state)?.isDone ?? true {
                    return Self.refusal(of: stop, payload, unlessCancelled: true) ?? self.ok(payload)
                }
                // CANCEL never stops a started run: the holder leaves it running.
                if stop == .cancel, payload.startedAt != nil { return Self.refusal(of: stop, payload) }
                return nil
            },
            late: { payload in
                .error(
                    .stillRunning,
                    "task \(payload.id) (\(payload.name)) runs on host \(holder), which was asked \(grace) s ago to stop it and has not ended it: the task does not check for stop requests, or that host does not answer (then the task ends cancelled once its lease runs out)"
                )
            })
    }

    /// The refusal of CANCEL or KILL for a task in the state `payload` shows (nil: none).
    /// `unlessCancelled`: a task now cancelled is the stop's own doing.
    private static func refusal(of stop: RemoteStop, _ payload: FuturePayload, unlessCancelled: Bool = false) -> Response? {
        let state = FutureState(rawValue: payload.state)
        if unlessCancelled && state == .cancelled { return nil }
        switch stop {
        case .kill(_) where state?.isDone ?? true:
            return .error(.alreadyEnded, "task \(payload.id) has already ended (\(payload.state)); nothing to kill")
        case .cancel where state?.isDone ?? true || payload.startedAt != nil:
            let whereItRuns = payload.host.map { " on host \($0)" } ?? ""
            return .error(
                .notPending,
                "task \(payload.id) is \(payload.state)\(state == .running ? whereItRuns : ""); only a scheduled, waiting, pending or retrying task can be cancelled (KILL stops a running one)"
            )
        default: return nil
        }
    }

    /// Polls the shared store for a task (every 20 ms at first, then up to every 500 ms) until
    /// `answer` gives the reply, or `deadline` passed: then `late` gives it.
    private func pollShared(
        _ id: String, deadline: ContinuousClock.Instant?, delay: TimeAmount = .milliseconds(20), promise: EventLoopPromise<Response>,
        eventLoop: any EventLoop, answer: @escaping @Sendable (FuturePayload) -> Response?, late: @escaping @Sendable (FuturePayload) -> Response
    ) {
        launcher.persistence.lookUp(id) { result in
            switch result {
            case .failure(let error): promise.succeed(Response(error))
            case .success(nil): promise.succeed(Self.unknown(id))
            case .success(let payload?):
                if let response = answer(payload) {
                    promise.succeed(response)
                } else if let deadline, ContinuousClock.now >= deadline {
                    promise.succeed(late(payload))
                } else {
                    eventLoop.scheduleTask(in: delay) {
                        self.pollShared(
                            id, deadline: deadline, delay: min(delay * 2, .milliseconds(500)), promise: promise, eventLoop: eventLoop,
                            answer: answer, late: late)
                    }
                }
            }
        }
    }

    private static func deadline(_ seconds: Double?) -> ContinuousClock.Instant? {
        seconds.map { ContinuousClock.now + .nanoseconds(Int64(min($0, 1e9) * 1e9)) }
    }

    private static func unknown(_ id: String) -> Response {
        .error(.unknownID, "no task has id \(id), on this host or in the shared store")
    }
}
