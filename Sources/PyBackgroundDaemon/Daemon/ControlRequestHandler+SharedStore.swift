import NIOCore
import PyBackground
import PyBackgroundProtocol

/// RESULT and WAIT of a task this host's tables do not hold, read from a store several hosts
/// share: a task submitted here and run elsewhere, or submitted elsewhere.
extension ControlRequestHandler {
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

    /// Polls the shared store until the task has ended (every 20 ms at first, then up to every
    /// 500 ms), or `timeout` passed.
    func sharedWait(_ id: String, timeout: Double?, eventLoop: any EventLoop) -> ControlReply {
        let promise = eventLoop.makePromise(of: Response.self)
        let deadline = timeout.map { ContinuousClock.now + .nanoseconds(Int64(min($0, 1e9) * 1e9)) }
        pollShared(id, timeout: timeout, deadline: deadline, delay: .milliseconds(20), promise: promise, eventLoop: eventLoop)
        return .later(promise.futureResult)
    }

    private func pollShared(
        _ id: String, timeout: Double?, deadline: ContinuousClock.Instant?, delay: TimeAmount, promise: EventLoopPromise<Response>,
        eventLoop: any EventLoop
    ) {
        launcher.persistence.lookUp(id) { result in
            switch result {
            case .failure(let error): promise.succeed(Response(error))
            case .success(nil): promise.succeed(Self.unknown(id))
            case .success(let payload?):
                if FutureState(rawValue: payload.state)?.isDone ?? true {
                    promise.succeed(self.ok(payload))
                } else if let deadline, ContinuousClock.now >= deadline {
                    promise.succeed(.error(.timedOut, "task \(payload.id) has not ended after \(timeout ?? 0) s; it is \(payload.state)"))
                } else {
                    eventLoop.scheduleTask(in: delay) {
                        self.pollShared(
                            id, timeout: timeout, deadline: deadline, delay: min(delay * 2, .milliseconds(500)), promise: promise,
                            eventLoop: eventLoop)
                    }
                }
            }
        }
    }

    private static func unknown(_ id: String) -> Response {
        .error(.unknownID, "no task has id \(id), on this host or in the shared store")
    }
}
