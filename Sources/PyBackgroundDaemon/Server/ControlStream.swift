import NIOCore
import PyBackgroundProtocol

/// A streaming reply in progress on one connection (LOG, FOLLOW, EVENTS), driven on the
/// connection's event loop: it writes while the channel is writable, and ends itself through
/// ``StreamOutput/end(_:)``. Never blocks and never holds more than its own bound: a reader that does
/// not read stops a pull stream (output is read from where it is kept when the reader catches
/// up) and makes a push stream drop and count (EVENTS).
protocol ControlStream: AnyObject {
    /// Whether the client's end of input ends the stream. True for a stream with no end of its
    /// own (EVENTS): a client that sent EVENTS and closed would otherwise hold its connection
    /// until the next event's write failed. A stream that ends by itself (FOLLOW) goes on, so that
    /// `echo "FOLLOW id" | socat - UNIX-CONNECT:…` works.
    var endsWithInput: Bool { get }
    /// Begins writing to `output`, after the request's `OK` line.
    func start(_ output: StreamOutput)
    /// The channel can take more.
    func writable()
    /// The daemon stops (`reason` "shutdown": write `END {"reason":"shutdown"}` and end) or the
    /// connection is gone (nil: write nothing): release what the stream holds.
    func stop(reason: String?)
}

/// What a ``ControlStream`` writes through: lines, and its end.
struct StreamOutput {
    let context: ChannelHandlerContext
    /// Flushes once this turn of the event loop is over.
    let flush: () -> Void
    /// The stream is over: the connection takes requests again.
    let ended: () -> Void

    var isWritable: Bool { context.channel.isWritable && context.channel.isActive }

    func write(_ line: StreamLine) {
        context.write(NIOAny(ControlOutbound.stream(line)), promise: nil)
        flush()
    }

    /// Writes lines framed already (each ended by a line feed), in one write.
    func write(bytes: ByteBuffer) {
        context.write(NIOAny(ControlOutbound.bytes(bytes)), promise: nil)
        flush()
    }

    /// Writes `END` with `json` and hands the connection back.
    func end(_ json: String = "{}") {
        write(.end(json))
        ended()
    }

    /// Closes the connection once what was written is out (a reader that fell behind, with
    /// `events.on_lag: close`).
    func closeWhenWritten() {
        let context = self.context
        context.writeAndFlush(NIOAny(ControlOutbound.barrier)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}
