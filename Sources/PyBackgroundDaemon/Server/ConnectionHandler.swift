import Logging
import NIOCore
import PyBackgroundProtocol

/// One client connection: each line a request, each request one reply line, in order. A request
/// is evaluated only after the one before it has its reply, so `WAIT id` then `RESULT id` sees the
/// ended task; the one exception is a run of SUBMITs waiting for their rows to be durable, which
/// are evaluated back to back so that they share a commit (their replies still go out in order).
///
/// Replies that are ready are written at once and flushed once per read batch, so pipelined
/// requests cost one write system call per batch. While a reply is awaited (WAIT, SHUTDOWN wait)
/// the lines already read are held and the socket is not read further. While the client does not
/// read its replies (the channel is not writable), its lines are held too: a client that floods
/// requests and reads nothing gets neither memory nor event-loop time beyond one buffer of replies.
final class ConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Sent down the pipeline at shutdown: close once the replies still owed are written.
    struct CloseWhenDone {}

    private let requests: ControlRequestHandler
    private let maxLineBytes: Int
    /// `server.idle_timeout_seconds`, for the message that closes an idle connection.
    private let idleTimeoutSeconds: Double?
    private let info: ConnectionInfo
    private let logger: Logger

    private var awaiting = false
    /// Lines read while a reply was awaited, oldest first.
    private var held: [ByteBuffer] = []
    private var heldHead = 0
    /// A read the channel asked for while a reply was awaited.
    private var readRequested = false
    private var closeWhenDone = false
    /// Nothing more is read or evaluated; replies still owed are written.
    private var closing = false
    /// A line over the limit came in behind the held lines: it is answered in its turn.
    private var tooLongAfterHeld = false
    /// Line-too-long was answered behind replies still owed: close once they are written.
    private var closeAfterOwed = false

    /// Replies owed while durable SUBMIT replies are outstanding, in request order (nil: not ready
    /// yet); written from the front as they become ready. Empty otherwise: replies go out at once.
    private var owed: [Response?] = []
    private var owedHead = 0
    /// The position, counted over the connection's life, of `owed[0]`.
    private var owedBase = 0
    private var durableOutstanding = 0
    /// A request that came after durable SUBMITs and must see them acknowledged first.
    private var parked: Request?
    private var flushScheduled = false

    init(requests: ControlRequestHandler, maxLineBytes: Int, idleTimeoutSeconds: Double? = nil, info: ConnectionInfo, logger: Logger) {
        self.requests = requests
        self.maxLineBytes = maxLineBytes
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.info = info
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        let line = unwrapInboundIn(data)
        if awaiting || heldHead < held.count || !context.channel.isWritable {
            held.append(line)
        } else {
            process(line, context: context)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable && heldHead < held.count {
            // Not from inside NIO's write path, which fired this event.
            context.eventLoop.assumeIsolated().execute {
                if !self.awaiting && !self.closing { self.resume(context: context) }
            }
        }
        context.fireChannelWritabilityChanged()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // Not flushed here but just after: when this read batch ends in the peer's EOF and the
        // flush fails (the peer reset), the channel would close inside NIO's own EOF handling,
        // which then half-closes a closed channel (an assertion in NIO 2.101's debug builds).
        scheduleFlush(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        info.audit.flush()
        context.fireChannelInactive()
    }

    func read(context: ChannelHandlerContext) {
        if awaiting { readRequested = true } else { context.read() }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case ChannelEvent.inputClosed where closing && !closeAfterOwed:
            context.close(promise: nil)
        case ChannelEvent.inputClosed, is CloseWhenDone:
            // The client sent all it will (or the daemon is stopping): answer what is owed, then close.
            closeWhenDone = true
            closeIfDone(context: context)
        case let idle as IdleStateHandler.IdleStateEvent where idle == .read && !context.channel.isWritable:
            // Not one reply read for the whole idle time: the replies owed can never be delivered.
            logger.info("closing a connection that does not read its replies", metadata: [
                "connection": "\(info.number)", "uid": "\(info.peer.uid)", "pid": "\(info.peer.pid)",
            ])
            closing = true
            context.close(promise: nil)
        case let idle as IdleStateHandler.IdleStateEvent where idle == .read:
            if !awaiting && !closeWhenDone {
                logger.debug("closing idle connection", metadata: ["connection": "\(info.number)"])
                // Said before the close, so a client (or a person at socat) knows why it was closed.
                let seconds = idleTimeoutSeconds.map { "\($0)" } ?? "the idle timeout"
                emit(.error(.idleTimeout, "no complete request for \(seconds) s (server.idle_timeout_seconds); closing the connection"), context: context)
                scheduleFlush(context: context)
                closeWhenDone = true
                closeIfDone(context: context)
            }
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is ByteToMessageDecoderError.PayloadTooLargeError {
            // The lines before it are answered first, as if it had been read as a line.
            if awaiting || heldHead < held.count || !context.channel.isWritable {
                tooLongAfterHeld = true
            } else {
                lineTooLong(context: context)
            }
        } else if case ByteToMessageDecoderError.dataReceivedInErrorState = error, closing || tooLongAfterHeld {
            // What follows a line over the limit cannot be framed: dropped. The close comes once
            // the replies owed before it are written.
        } else {
            // A client that leaves half a line behind when it disconnects ends up here too.
            logger.debug("connection error", metadata: ["connection": "\(info.number)", "error": "\(error)"])
            context.close(promise: nil)
        }
    }

    private func process(_ line: ByteBuffer, context: ChannelHandlerContext) {
        guard !closing else { return }
        guard line.readableBytes <= maxLineBytes else {
            lineTooLong(context: context)
            return
        }
        guard let text = String(validating: line.readableBytesView, as: UTF8.self) else {
            emit(.error(.invalidUTF8, "the request is not valid UTF-8"), context: context)
            return
        }
        let request: Request
        do {
            request = try Request(parsing: text)
        } catch {
            emit(Response(error), context: context)
            return
        }
        if durableOutstanding > 0, !request.isSubmit {
            parked = request
            awaiting = true
            return
        }
        evaluate(request, context: context)
    }

    private func evaluate(_ request: Request, context: ChannelHandlerContext) {
        switch requests.handle(request, connection: info, eventLoop: context.eventLoop) {
        case .now(let response):
            emit(response, context: context)
        case .later(let future):
            awaiting = true
            future.hop(to: context.eventLoop).assumeIsolated().whenComplete { result in
                self.emit(Self.response(result), context: context)
                self.awaiting = false
                self.resume(context: context)
            }
        case .durable(let reply):
            owed.append(nil)
            let position = owedBase + owed.count - 1
            durableOutstanding += 1
            reply.id.hop(to: context.eventLoop).assumeIsolated().whenComplete { result in
                self.fill(position, with: reply.respond(result), context: context)
                self.durableOutstanding -= 1
                if self.durableOutstanding == 0, let parked = self.parked {
                    self.parked = nil
                    self.awaiting = false
                    self.evaluate(parked, context: context)
                    self.resume(context: context)
                } else {
                    self.closeIfDone(context: context)
                }
            }
        }
    }

    private static func response(_ result: Result<Response, any Error>) -> Response {
        switch result {
        case .success(let response): response
        case .failure(let error): .error(.internal, "\(error)")
        }
    }

    /// Writes a reply now, or queues it behind the durable replies still owed.
    private func emit(_ response: Response, context: ChannelHandlerContext) {
        if owedHead == owed.count { write(response, context: context) } else { owed.append(response) }
    }

    /// A durable reply is ready: write it and every ready one after it, flushing once per turn of
    /// the event loop (a commit readies many at once).
    private func fill(_ position: Int, with response: Response, context: ChannelHandlerContext) {
        owed[position - owedBase] = response
        while owedHead < owed.count, let ready = owed[owedHead] {
            write(ready, context: context)
            owedHead += 1
        }
        if owedHead == owed.count {
            owedBase += owed.count
            owed.removeAll(keepingCapacity: true)
            owedHead = 0
        }
        scheduleFlush(context: context)
        closeIfOwedWritten(context: context)
    }

    /// Flushes what was written, and logs the submissions accepted meanwhile, once this turn of
    /// the event loop is over: one write system call however many replies are ready.
    private func scheduleFlush(context: ChannelHandlerContext) {
        guard !flushScheduled else { return }
        flushScheduled = true
        context.eventLoop.assumeIsolated().execute {
            self.flushScheduled = false
            context.flush()
            self.info.audit.flush()
        }
    }

    /// After an awaited reply (or once the client reads again): the held lines, in order, until one
    /// awaits again or the client stops reading; then reading resumes.
    private func resume(context: ChannelHandlerContext) {
        while !awaiting && heldHead < held.count && context.channel.isWritable {
            let line = held[heldHead]
            heldHead += 1
            process(line, context: context)
        }
        if heldHead == held.count {
            held.removeAll(keepingCapacity: true)
            heldHead = 0
            if tooLongAfterHeld && !awaiting {
                tooLongAfterHeld = false
                lineTooLong(context: context)
            }
        }
        context.flush()
        if !awaiting && readRequested {
            readRequested = false
            context.read()
        }
        closeIfDone(context: context)
    }

    /// The stream cannot be framed past a line over the limit: its reply goes out behind the
    /// replies still owed (durable SUBMITs read before it), then the connection closes.
    private func lineTooLong(context: ChannelHandlerContext) {
        guard !closing else { return }
        closing = true
        emit(.error(.lineTooLong, "request line longer than \(maxLineBytes) bytes; closing the connection"), context: context)
        closeAfterOwed = true
        closeIfOwedWritten(context: context)
    }

    private func closeIfOwedWritten(context: ChannelHandlerContext) {
        guard closeAfterOwed, owedHead == owed.count else { return }
        closeAfterOwed = false
        context.closeAfterLastReply(context.channel.allocator.buffer(capacity: 0))
    }

    private func write(_ response: Response, context: ChannelHandlerContext) {
        let line = response.line
        // Sized once: grown by doubling, a 25 MB reply (FUTURES all) passed through several copies.
        var buffer = context.channel.allocator.buffer(capacity: line.utf8.count + 1)
        buffer.writeString(line)
        buffer.writeInteger(UInt8(ascii: "\n"))
        // A reply of megabytes (TASKS all) leaves several times its size free in the heap.
        if buffer.readableBytes > Self.largeReplyBytes { HeapTrim.request() }
        context.write(wrapOutboundOut(buffer), promise: nil)
    }

    /// Replies past this size ask for the freed heap to be given back afterwards.
    static let largeReplyBytes = 1 << 20

    private func closeIfDone(context: ChannelHandlerContext) {
        guard closeWhenDone, !closing, !awaiting, durableOutstanding == 0, heldHead == held.count, context.channel.isActive else { return }
        closing = true
        // Close once everything written so far has gone out.
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}

/// The handler of a connection that is not served (over the limit, or a peer not allowed): one
/// `ERR` line, then close.
final class ConnectionRefusalHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let response: Response

    init(_ response: Response) { self.response = response }

    func channelActive(context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: 128)
        buffer.writeString(response.line + "\n")
        context.closeAfterLastReply(buffer)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { context.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// How long a refused connection's remaining input is read and dropped before it is closed.
private let lingerAfterRefusal = TimeAmount.seconds(2)

extension ChannelHandlerContext {
    /// Writes `last` (what is already written goes before it) and closes without losing it:
    /// closing with the client's input unread makes the kernel reset the connection, and the
    /// client would lose the reply. So our side is shut once it is written, what still comes is
    /// dropped, and the connection closes at the client's end (or after a linger).
    func closeAfterLastReply(_ last: ByteBuffer) {
        writeAndFlush(NIOAny(last)).assumeIsolated().whenComplete { _ in
            self.close(mode: .output, promise: nil)
        }
        eventLoop.assumeIsolated().scheduleTask(in: lingerAfterRefusal) {
            self.close(promise: nil)
        }
    }
}
