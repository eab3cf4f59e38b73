import Logging
import NIOCore
import PyBackground
import PyBackgroundProtocol

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The verbs of failure and flow: KILL, RETRY, REMOVE, QUEUES, PAUSE and RESUME, and the checks
/// of a submission's flow options.
extension ControlRequestHandler {
    /// Why a submission's options cannot be honoured (nil: they can): a queue that is not configured.
    func checkFlow(_ options: SubmitOptions, task: RegisteredTask) -> Response? {
        guard let queue = options.queue, !scheduler.queues.contains(where: { $0.name == queue }) else { return nil }
        return unknownQueue(queue)
    }

    /// The reply naming a queue the config does not have, and those it has.
    func unknownQueue(_ name: String) -> Response {
        .error(.unknownQueue, "no queue named \"\(name)\"; configured queues: \(scheduler.queues.map(\.name).joined(separator: ", "))")
    }

    /// Every queue as QUEUES and STATUS show it.
    var queuePayloads: [QueuePayload] {
        scheduler.queues.map {
            QueuePayload(name: $0.name, maxRunning: $0.maxRunning ?? scheduler.maxWorkers, paused: $0.paused, pending: $0.pending, running: $0.running)
        }
    }

    /// Stops a task: cancelled at once if it is not running; asked to stop if it is, and answered
    /// once it has ended, or with `still-running` after the kill grace. On a shared store, a task
    /// another host holds is stopped by that host (``sharedStop(_:_:eventLoop:)``).
    func kill(_ id: String, connection: ConnectionInfo, eventLoop: any EventLoop) -> ControlReply {
        let who = "uid \(connection.peer.uid) (pid \(connection.peer.pid))"
        let future: Future
        switch resolve(id) {
        case .failure(let error) where triesSharedStore(after: error): return sharedStop(id, .kill(by: who), eventLoop: eventLoop)
        case .failure(let error): return .now(Response(error))
        case .success(let found): future = found
        }
        let before = future.state
        guard !before.isDone else {
            return .now(.error(.alreadyEnded, "task \(future.id) has already ended (\(before)); nothing to kill"))
        }
        logger.notice("kill requested", metadata: ["id": "\(future.id)", "task": "\(future.record.name)", "state": "\(before)", "by": "\(who)"])
        future.kill(by: who)
        if future.isDone { return .now(ok(FuturePayload(future))) }
        let grace = killGraceSeconds
        let logger = self.logger
        return replyWhenEnded(future, within: grace, eventLoop: eventLoop) {
            logger.warning(
                "a killed task did not stop within the kill grace; it still runs",
                metadata: ["id": "\(future.id)", "task": "\(future.record.name)", "grace_seconds": "\(grace)"])
            return .error(
                .stillRunning,
                "task \(future.id) (\(future.record.name)) was asked to stop \(grace) s ago and still runs: it does not check for stop requests; it ends cancelled when it returns"
            )
        }
    }

    /// Runs an ended task again: a new task with the same task, arguments and options, labelled
    /// `retry_of` the old one (whose history stays as it was).
    func retry(_ id: String, connection: ConnectionInfo, eventLoop: any EventLoop) -> ControlReply {
        let old: Future
        switch resolve(id) {
        case .failure(let error): return .now(Response(error))
        case .success(let found): old = found
        }
        guard old.isDone else {
            return .now(.error(.notEnded, "task \(old.id) is \(old.state); only an ended task can be run again (KILL stops a running one)"))
        }
        let record = old.record
        let options = record.options
        var again = SubmitOptions(retryOf: record.id.description)
        if let queue = options.queue, queue != "default" { again.queue = queue }
        if options.priority != 0 { again.priority = options.priority }
        if let retry = options.retry { again.attempts = retry.maxAttempts }
        again.timeout = options.timeout
        again.unique = options.uniqueKey
        return submit(record.name, record.rerunWords, options: again, connection: connection, eventLoop: eventLoop, wake: .now)
    }

    /// Removes chosen ended tasks from the store and then the tables; refuses, removing nothing,
    /// if one of them has not ended.
    func remove(_ ids: [String], eventLoop: any EventLoop) -> ControlReply {
        var chosen: [Future] = []
        for id in ids {
            switch resolve(id) {
            case .failure(let error): return .now(Response(error))
            case .success(let future):
                guard future.isDone else {
                    return .now(.error(.notEnded, "task \(future.id) is \(future.state); only ended tasks can be removed (nothing was removed)"))
                }
                if !chosen.contains(where: { $0.id == future.id }) { chosen.append(future) }
            }
        }
        let promise = eventLoop.makePromise(of: Response.self)
        launcher.remove(chosen.map(\.id)) { result in
            switch result {
            case .success(let removed): promise.succeed(self.ok(RemovePayload(removed: removed.map(\.description))))
            case .failure(let error): promise.succeed(Response(error))
            }
        }
        return .later(promise.futureResult)
    }

    /// Pauses or resumes a queue, durably: the reply comes once the store has it.
    func setPaused(_ name: String, _ paused: Bool, eventLoop: any EventLoop) -> ControlReply {
        guard scheduler.queues.contains(where: { $0.name == name }) else { return .now(unknownQueue(name)) }
        let promise = eventLoop.makePromise(of: Response.self)
        let scheduler = self.scheduler
        let logger = self.logger
        launcher.persistence.recordQueue(name, paused: paused) { result in
            switch result {
            case .success:
                do {
                    if paused { try scheduler.pauseQueue(name) } else { try scheduler.resumeQueue(name) }
                } catch {
                    promise.succeed(.error(.unknownQueue, "\(error)"))
                    return
                }
                logger.notice(paused ? "queue paused" : "queue resumed", metadata: ["queue": "\(name)"])
                let queue = self.queuePayloads.first { $0.name == name }
                promise.succeed(queue.map { self.ok($0) } ?? self.unknownQueue(name))
            case .failure(let error):
                promise.succeed(.error(.storeFailed, "the queue was not \(paused ? "paused" : "resumed"): \(error)"))
            }
        }
        return .later(promise.futureResult)
    }
}
