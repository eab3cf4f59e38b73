import Logging
import NIOCore
import PyBackgroundProtocol

/// One client connection: takes the lines ``ControlLineCodec`` parsed, feeds what happens to a
/// ``ConnectionStateMachine`` (which holds every ordering rule), and performs its actions:
/// evaluating requests through ``ControlRequestHandler``, writing replies, passing reads on,
/// closing.
///
/// Replies are flushed once per turn of the event loop, so pipelined requests cost one write
/// system call per read batch, and a commit that readies many durable replies one per commit.
final class ConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ConnectionStateMachine.Line
    typealias OutboundIn = ControlOutbound
    typealias OutboundOut = ControlOutbound

    /// Sent down the pipeline at shutdown: close once the replies still owed are written.
    struct CloseWhenDone {}

    private let requests: ControlRequestHandler
    private let info: ConnectionInfo
    private let logger: Logger
    private var machine: ConnectionStateMachine
    private var flushScheduled = false
    /// Requests evaluated in the read being handled: all but the first leave waking the worker
    /// pool to the end of the read (``WorkerWake``).
    private var evaluatedInRead = 0
    /// True while `channelRead` handles a line: what it evaluates belongs to the current read.
    private var inRead = false
    /// Tasks were started without waking a worker: wake the pool when this turn's flush runs.
    private var wakeOwed = false
    /// The streaming reply running, if any.
    private var stream: (any ControlStream)?

    init(requests: ControlRequestHandler, maxLineBytes: Int, idleTimeoutSeconds: Double? = nil, info: ConnectionInfo, logger: Logger) {
        self.requests = requests
        self.info = info
        self.logger = logger
        let seconds = idleTimeoutSeconds.map { "\($0)" } ?? "the idle timeout"
        self.machine = ConnectionStateMachine(
            tooLongReply: .error(.lineTooLong, "request line longer than \(maxLineBytes) bytes; closing the connection"),
            idleReply: .error(.idleTimeout, "no complete request for \(seconds) s (server.idle_timeout_seconds); closing the connection"))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        inRead = true
        machine.lineReceived(unwrapInboundIn(data))
        perform(context: context)
        inRead = false
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        let writable = context.channel.isWritable
        machine.writabilityChanged(writable)
        if writable {
            // Not from inside NIO's write path, which fired this event.
            context.eventLoop.assumeIsolated().execute {
                self.stream?.writable()
                self.perform(context: context)
            }
        }
        context.fireChannelWritabilityChanged()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        evaluatedInRead = 0
        // Not flushed here but just after: when this read batch ends in the peer's EOF and the
        // flush fails (the peer reset), the channel would close inside NIO's own EOF handling,
        // which then half-closes a closed channel (an assertion in NIO 2.101's debug builds).
        scheduleFlush(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        info.audit.flush()
        if let stream {
            self.stream = nil
            stream.stop(reason: nil)
        }
        context.fireChannelInactive()
    }

    func read(context: ChannelHandlerContext) {
        if machine.readWanted() { context.read() }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case ChannelEvent.inputClosed:
            machine.inputClosed()
            if let stream, stream.endsWithInput { stream.stop(reason: "closed") }
        case is CloseWhenDone:
            machine.closeWhenRepliesWritten()
            // A stream of events never ends by itself: the shutdown ends it.
            stream?.stop(reason: "shutdown")
        case let idle as IdleStateHandler.IdleStateEvent where idle == .read:
            switch machine.idleTimeout() {
            case .closedUnread:
                logger.info(
                    "closing a connection that does not read its replies",
                    metadata: [
                        "connection": "\(info.number)", "uid": "\(info.peer.uid)", "pid": "\(info.peer.pid)",
                    ])
            case .closedIdle:
                logger.debug("closing idle connection", metadata: ["connection": "\(info.number)"])
            case .ignored:
                break
            }
        default:
            context.fireUserInboundEventTriggered(event)
            return
        }
        perform(context: context)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A client that leaves half a line behind when it disconnects ends up here too.
        logger.debug("connection error", metadata: ["connection": "\(info.number)", "error": "\(error)"])
        context.close(promise: nil)
    }

    // MARK: - Actions

    /// Does what the state machine asks until it asks nothing more.
    private func perform(context: ChannelHandlerContext) {
        while let action = machine.nextAction() {
            switch action {
            case .evaluate(let request):
                machine.evaluated(evaluate(request, context: context))
            case .write(let response):
                context.write(wrapOutboundOut(.reply(response)), promise: nil)
                scheduleFlush(context: context)
            case .read:
                context.read()
            case .close:
                context.close(promise: nil)
            case .closeWhenWritten:
                guard context.channel.isActive else { break }
                context.writeAndFlush(wrapOutboundOut(.barrier)).assumeIsolated().whenComplete { _ in
                    context.close(promise: nil)
                }
            case .closeAfterLastReply:
                context.closeAfterLastReply(wrapOutboundOut(.barrier))
            }
        }
    }

    private func evaluate(_ request: Request, context: ChannelHandlerContext) -> ConnectionStateMachine.Evaluation {
        // The first request of a read wakes a worker at once (a lone request waits for nothing);
        // the rest of a pipelined read leave it to this turn's flush, which wakes the pool once.
        var wake = WorkerWake.now
        if inRead {
            if evaluatedInRead > 0 {
                wake = .afterRead
                wakeOwed = true
                scheduleFlush(context: context)
            }
            evaluatedInRead += 1
        }
        switch requests.handle(request, connection: info, eventLoop: context.eventLoop, wake: wake) {
        case .now(let response):
            return .now(response)
        case .later(let future):
            future.hop(to: context.eventLoop).assumeIsolated().whenComplete { result in
                self.machine.laterReplyReady(Self.response(result))
                self.perform(context: context)
            }
            return .later
        case .stream(let json, let stream):
            startStream(json, stream, context: context)
            return .stream
        case .laterStream(let future):
            future.hop(to: context.eventLoop).assumeIsolated().whenComplete { result in
                switch result {
                // The client left meanwhile: nothing to start (a stream would follow for no one).
                case .success(.stream) where !context.channel.isActive: return
                case .success(.stream(let json, let make)):
                    self.machine.laterStreamStarted()
                    self.startStream(json, make(), context: context)
                case .success(.refused(let response)): self.machine.laterReplyReady(response)
                case .failure(let error): self.machine.laterReplyReady(Self.response(.failure(error)))
                }
                self.perform(context: context)
            }
            return .later
        case .durable(let reply):
            let position = machine.owedPosition
            reply.id.hop(to: context.eventLoop).assumeIsolated().whenComplete { result in
                self.machine.durableReplyReady(at: position, reply.respond(result))
                self.perform(context: context)
            }
            return .durable
        }
    }

    /// Writes a stream's `OK` and starts it.
    private func startStream(_ json: String, _ stream: any ControlStream, context: ChannelHandlerContext) {
        // Nothing is owed before a stream (it is not a SUBMIT): its OK goes out first.
        context.write(wrapOutboundOut(.reply(.ok(json))), promise: nil)
        scheduleFlush(context: context)
        self.stream = stream
        let output = StreamOutput(
            context: context, flush: { self.scheduleFlush(context: context) },
            ended: {
                guard self.stream === stream else { return }
                self.stream = nil
                self.machine.streamEnded()
                // Not inside the stream's own call: it may still be on the stack.
                context.eventLoop.assumeIsolated().execute { self.perform(context: context) }
            })
        // Started once the state machine knows it streams: a stream may end at once.
        context.eventLoop.assumeIsolated().execute {
            guard self.stream === stream else { return }
            stream.start(output)
        }
    }

    private static func response(_ result: Result<Response, any Error>) -> Response {
        switch result {
        case .success(let response): response
        case .failure(let error): .error(.internal, "\(error)")
        }
    }

    /// Flushes what was written, and logs the submissions accepted meanwhile, once this turn of
    /// the event loop is over: one write system call however many replies are ready.
    private func scheduleFlush(context: ChannelHandlerContext) {
        guard !flushScheduled else { return }
        flushScheduled = true
        context.eventLoop.assumeIsolated().execute {
            self.flushScheduled = false
            context.flush()
            // After the flush: the replies go out first, the event loop being what they wait for.
            if self.wakeOwed {
                self.wakeOwed = false
                self.requests.wakeWorkers()
            }
            self.info.audit.flush()
        }
    }
}
