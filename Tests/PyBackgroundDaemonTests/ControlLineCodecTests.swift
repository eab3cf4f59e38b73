import NIOCore
import NIOEmbedded
import PyBackgroundProtocol
import Testing

@testable import PyBackgroundDaemon

/// The codec's outbound side on its own: short replies gathered until a flush, in order with
/// everything else written.
@Suite("Control line codec, outbound")
struct ControlLineCodecTests {
    static func channel() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ControlLineCodec(maxLineBytes: 64))
        return channel
    }

    /// Every buffer the channel wrote, as text.
    static func written(_ channel: EmbeddedChannel) throws -> [String] {
        var chunks: [String] = []
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) {
            chunks.append(buffer.readString(length: buffer.readableBytes) ?? "")
        }
        return chunks
    }

    @Test("short replies written before a flush go out at the flush, as one write, in order")
    func shortRepliesGoOutTogetherAtTheFlush() throws {
        let channel = try Self.channel()
        for index in 0..<3 { channel.write(ControlOutbound.reply(.ok("{\"n\":\(index)}")), promise: nil) }
        #expect(try Self.written(channel).isEmpty)
        channel.flush()
        #expect(try Self.written(channel) == ["OK {\"n\":0}\nOK {\"n\":1}\nOK {\"n\":2}\n"])
    }

    @Test(
        "whatever else is written after gathered replies goes out after them",
        arguments: [
            (ControlOutbound.stream(.event("{}")), "EVENT {}\n"),
            (.bytes(ByteBuffer(string: "OUT {}\n")), "OUT {}\n"),
            (.barrier, ""),
            (.reply(.ok(String(repeating: "x", count: 5000))), "OK " + String(repeating: "x", count: 5000) + "\n"),
        ])
    func laterWritesKeepTheirPlace(later: ControlOutbound, text: String) throws {
        let channel = try Self.channel()
        channel.write(ControlOutbound.reply(.ok("{}")), promise: nil)
        channel.write(ControlOutbound.reply(.error(.badRequest, "no")), promise: nil)
        channel.write(later, promise: nil)
        channel.flush()
        #expect(try Self.written(channel).joined() == "OK {}\nERR bad-request no\n" + text)
    }

    @Test("a reply written with a promise is not held back: the promise completes with its write")
    func aReplyWithAPromiseIsWrittenAtOnce() throws {
        let channel = try Self.channel()
        channel.write(ControlOutbound.reply(.ok("{\"first\":1}")), promise: nil)
        let written = channel.writeAndFlush(ControlOutbound.reply(.ok("{}")))
        try written.wait()
        #expect(try Self.written(channel).joined() == "OK {\"first\":1}\nOK {}\n")
    }

    @Test("gathered replies are passed on once they fill a buffer, without waiting for the flush")
    func aFullBufferIsPassedOnBeforeTheFlush() throws {
        let channel = EmbeddedChannel()
        let writes = WriteCounter()
        try channel.pipeline.syncOperations.addHandlers([writes, ControlLineCodec(maxLineBytes: 64)])
        let json = "{\"pad\":\"" + String(repeating: "p", count: 1000) + "\"}"
        let lineBytes = "OK \(json)\n".utf8.count
        let perBuffer = (ControlLineCodec.gatheredBufferBytes + lineBytes - 1) / lineBytes
        for _ in 0..<perBuffer - 1 { channel.write(ControlOutbound.reply(.ok(json)), promise: nil) }
        #expect(writes.count == 0)
        channel.write(ControlOutbound.reply(.ok(json)), promise: nil)
        #expect(writes.count == 1)
        channel.write(ControlOutbound.reply(.ok(json)), promise: nil)
        channel.flush()
        #expect(writes.count == 2)
        #expect(try Self.written(channel).joined().utf8.count == (perBuffer + 1) * lineBytes)
    }
}

/// Counts the writes that reach it on their way to the channel.
private final class WriteCounter: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    private(set) var count = 0

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        count += 1
        context.write(data, promise: promise)
    }
}
