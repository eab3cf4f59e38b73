import NIOCore
import PyBackgroundProtocol

/// The control protocol's framing, between the line decoder and ``ConnectionHandler``: on the way
/// in, each line is checked for size and UTF-8 and parsed into a ``ConnectionStateMachine/Line``
/// (a line the decoder could not hold becomes `.tooLong`); on the way out, each reply is encoded
/// as one line.
final class ControlLineCodec: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ConnectionStateMachine.Line
    typealias OutboundIn = ControlOutbound
    typealias OutboundOut = ByteBuffer

    private let maxLineBytes: Int
    /// A line over the limit was passed on: what follows cannot be framed, and its errors are dropped.
    private var overLimit = false
    /// Short replies written since the last flush, framed into one buffer that the flush passes
    /// on as one write. Passed on one by one, each reply took its own buffer and its own trip
    /// through the handlers below (idle timer, back pressure): an eighth of the event loop's
    /// time under pipelined SUBMIT (perf: issue 20). Anything else written first passes these
    /// on, so the order holds; like any unflushed write, they go nowhere if the channel closes
    /// before a flush.
    private var gathered: ByteBuffer?

    init(maxLineBytes: Int) {
        self.maxLineBytes = maxLineBytes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(wrapInboundOut(Self.decode(unwrapInboundIn(data), maxLineBytes: maxLineBytes)))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is ByteToMessageDecoderError.PayloadTooLargeError {
            overLimit = true
            context.fireChannelRead(wrapInboundOut(.tooLong))
        } else if case ByteToMessageDecoderError.dataReceivedInErrorState = error, overLimit {
            // What follows a line over the limit: dropped; the connection closes after its reply.
        } else {
            context.fireErrorCaught(error)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let outbound = unwrapOutboundIn(data)
        if case .reply(let response) = outbound, promise == nil {
            let line = response.line
            if line.utf8.count < Self.gatheredReplyBytes {
                if gathered == nil { gathered = context.channel.allocator.buffer(capacity: Self.gatheredBufferBytes) }
                Self.frame(line, into: &gathered!)
                if gathered!.readableBytes >= Self.gatheredBufferBytes { passGathered(context: context) }
                return
            }
        }
        passGathered(context: context)
        switch outbound {
        case .reply(let response):
            let buffer = Self.encode(response, allocator: context.channel.allocator)
            // A reply of megabytes (TASKS all) leaves several times its size free in the heap.
            if buffer.readableBytes > Self.largeReplyBytes { HeapTrim.request() }
            context.write(wrapOutboundOut(buffer), promise: promise)
        case .stream(let line):
            let text = line.line
            var buffer = context.channel.allocator.buffer(capacity: text.utf8.count + 1)
            Self.frame(text, into: &buffer)
            context.write(wrapOutboundOut(buffer), promise: promise)
        case .bytes(let buffer):
            context.write(wrapOutboundOut(buffer), promise: promise)
        case .barrier:
            context.write(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0)), promise: promise)
        }
    }

    func flush(context: ChannelHandlerContext) {
        passGathered(context: context)
        context.flush()
    }

    private func passGathered(context: ChannelHandlerContext) {
        guard let buffer = gathered else { return }
        gathered = nil
        context.write(wrapOutboundOut(buffer), promise: nil)
    }

    /// Replies past this size ask for the freed heap to be given back afterwards.
    static let largeReplyBytes = 1 << 20
    /// Replies shorter than this are gathered (see `gathered`); a gathered buffer is passed on
    /// once it holds this many bytes, flushed or not.
    static let gatheredReplyBytes = 4096
    static let gatheredBufferBytes = 64 * 1024

    /// A framed line as the connection's state machine takes it.
    static func decode(_ line: ByteBuffer, maxLineBytes: Int) -> ConnectionStateMachine.Line {
        guard line.readableBytes <= maxLineBytes else { return .tooLong }
        guard let text = String(validating: line.readableBytesView, as: UTF8.self) else {
            return .invalid(.error(.invalidUTF8, "the request is not valid UTF-8"))
        }
        do {
            return .request(try Request(parsing: text))
        } catch {
            return .invalid(Response(error))
        }
    }

    /// A reply as one line, sized once: grown by doubling, a 25 MB reply (FUTURES all) passed
    /// through several copies.
    static func encode(_ response: Response, allocator: ByteBufferAllocator) -> ByteBuffer {
        let line = response.line
        var buffer = allocator.buffer(capacity: line.utf8.count + 1)
        frame(line, into: &buffer)
        return buffer
    }

    /// Writes `line` and its line feed.
    static func frame(_ line: String, into buffer: inout ByteBuffer) {
        buffer.writeString(line)
        buffer.writeInteger(UInt8(ascii: "\n"))
    }
}

/// What ``ConnectionHandler`` writes through ``ControlLineCodec``.
enum ControlOutbound {
    case reply(Response)
    /// A line of a streaming reply, after its `OK`.
    case stream(StreamLine)
    /// Lines of a streaming reply, framed already.
    case bytes(ByteBuffer)
    /// Nothing: its write completes once everything written before it is out.
    case barrier
}
