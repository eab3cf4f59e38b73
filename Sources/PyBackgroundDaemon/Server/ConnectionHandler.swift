import Logging
import NIOCore
import PyBackgroundProtocol

/// One client connection: each line a request, each request one reply line, taken strictly in
/// order. A request is evaluated only after the one before it has its reply, so `WAIT id` then
/// `RESULT id` sees the ended task.
///
/// Replies that are ready are written at once and flushed once per read batch, so pipelined
/// requests cost one write system call per batch. While a reply is awaited (WAIT, SHUTDOWN wait)
/// the lines already read are held and the socket is not read further.
final class ConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Sent down the pipeline at shutdown: close once the replies still owed are written.
    struct CloseWhenDone {}

    private let requests: ControlRequestHandler
    private let maxLineBytes: Int
    private let info: ConnectionInfo
    private let logger: Logger

    private var awaiting = false
    /// Lines read while a reply was awaited, oldest first.
    private var held: [ByteBuffer] = []
    private var heldHead = 0
    /// A read the channel asked for while a reply was awaited.
    private var readRequested = false
    private var closeWhenDone = false
    private var closing = false

    init(requests: ControlRequestHandler, maxLineBytes: Int, info: ConnectionInfo, logger: Logger) {
        self.requests = requests
        self.maxLineBytes = maxLineBytes
        self.info = info
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        let line = unwrapInboundIn(data)
        if awaiting { held.append(line) } else { process(line, context: context) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func read(context: ChannelHandlerContext) {
        if awaiting { readRequested = true } else { context.read() }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case ChannelEvent.inputClosed where closing:
            context.close(promise: nil)
        case ChannelEvent.inputClosed, is CloseWhenDone:
            // The client sent all it will (or the daemon is stopping): answer what is owed, then close.
            closeWhenDone = true
            closeIfDone(context: context)
        case let idle as IdleStateHandler.IdleStateEvent where idle == .read:
            if !awaiting {
                logger.debug("closing idle connection", metadata: ["connection": "\(info.number)"])
                closeWhenDone = true
                closeIfDone(context: context)
            }
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is ByteToMessageDecoderError.PayloadTooLargeError {
            lineTooLong(context: context)
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
            write(.error(.invalidUTF8, "the request is not valid UTF-8"), context: context)
            return
        }
        let reply: ControlReply
        do {
            reply = requests.handle(try Request(parsing: text), connection: info, eventLoop: context.eventLoop)
        } catch {
            reply = .now(Response(error))
        }
        switch reply {
        case .now(let response):
            write(response, context: context)
        case .later(let future):
            awaiting = true
            future.hop(to: context.eventLoop).assumeIsolated().whenComplete { result in
                switch result {
                case .success(let response): self.write(response, context: context)
                case .failure(let error): self.write(.error(.internal, "\(error)"), context: context)
                }
                self.awaiting = false
                self.resume(context: context)
            }
        }
    }

    /// After an awaited reply: the held lines, in order, until one awaits again; then reading resumes.
    private func resume(context: ChannelHandlerContext) {
        while !awaiting && heldHead < held.count {
            let line = held[heldHead]
            heldHead += 1
            process(line, context: context)
        }
        if heldHead == held.count {
            held.removeAll(keepingCapacity: true)
            heldHead = 0
        }
        context.flush()
        if !awaiting && readRequested {
            readRequested = false
            context.read()
        }
        closeIfDone(context: context)
    }

    private func lineTooLong(context: ChannelHandlerContext) {
        guard !closing else { return }
        write(.error(.lineTooLong, "request line longer than \(maxLineBytes) bytes; closing the connection"), context: context)
        closing = true
        // Closing with unread input makes the kernel reset the connection, and the client would lose
        // the reply: shut our side only, drop what still comes, close at its end (or soon after).
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0))).assumeIsolated().whenComplete { _ in
            context.close(mode: .output, promise: nil)
        }
        context.eventLoop.assumeIsolated().scheduleTask(in: Self.lingerAfterRefusal) {
            context.close(promise: nil)
        }
    }

    /// How long a refused connection's remaining input is read and dropped before it is closed.
    static let lingerAfterRefusal = TimeAmount.seconds(2)

    private func write(_ response: Response, context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: 64)
        buffer.writeString(response.line)
        buffer.writeInteger(UInt8(ascii: "\n"))
        context.write(wrapOutboundOut(buffer), promise: nil)
    }

    private func closeIfDone(context: ChannelHandlerContext) {
        guard closeWhenDone, !awaiting, heldHead == held.count, context.channel.isActive else { return }
        closing = true
        // Close once everything written so far has gone out.
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}

/// The handler of a connection over the limit: one `ERR too-many-connections`, then close.
final class ConnectionRefusalHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let limit: Int

    init(limit: Int) { self.limit = limit }

    func channelActive(context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: 96)
        let response = Response.error(.tooManyConnections, "the daemon holds its maximum of \(limit) connections; try again later")
        buffer.writeString(response.line + "\n")
        context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
