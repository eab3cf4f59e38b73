import Logging
import NIOCore
import NIOEmbedded
import NIOExtras
import PyBackground
import PyBackgroundProtocol
import PyBackgroundTesting
import Testing

@testable import PyBackgroundDaemon

/// The connection's pipeline (line decoder, codec, handler) on NIO's EmbeddedChannel: bytes in,
/// reply lines out, with the real request handler over an in-memory scheduler.
@Suite("Connection handler on an embedded channel")
struct ConnectionHandlerTests {
    /// A pipeline as ControlServer builds it, without the socket.
    static func channel(maxLineBytes: Int = 64) throws -> (EmbeddedChannel, BackgroundScheduler) {
        let scheduler = BackgroundScheduler(maxWorkers: 1, keepFinished: nil)
        let logger = Logger(label: "test")
        let launcher = TaskLauncher(
            scheduler: scheduler, persistence: MemoryPersistence(),
            outputs: TaskOutputs(storage: MemoryOutputStorage(), maxBytes: 1024, logger: logger), events: TaskEvents(),
            cancellation: TaskCancellation(), logger: logger)
        let requests = ControlRequestHandler(
            launcher: launcher, schedules: ScheduleBook(launcher: launcher, registry: TaskRegistry.builtins, logger: logger),
            registry: TaskRegistry.builtins, maxPending: 10, maxScheduled: 10,
            logger: logger, requestShutdown: {})
        let peer = PeerCredentials(pid: 1, uid: 0, gid: 0)
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([
            ByteToMessageHandler(LineBasedFrameDecoder(), maximumBufferSize: maxLineBytes + 2),
            ControlLineCodec(maxLineBytes: maxLineBytes),
            ConnectionHandler(
                requests: requests, maxLineBytes: maxLineBytes,
                info: ConnectionInfo(number: 1, peer: peer, audit: SubmissionAudit(peer: peer, logger: logger, level: .debug)),
                logger: logger),
        ])
        try channel.connect(to: SocketAddress(unixDomainSocketPath: "/tmp/embedded")).wait()
        return (channel, scheduler)
    }

    /// Writes `text` as the client would, runs the loop, and returns the reply lines written.
    static func exchange(_ channel: EmbeddedChannel, _ text: String) throws -> [String] {
        try channel.writeInbound(channel.allocator.buffer(string: text))
        channel.embeddedEventLoop.run()
        var lines: [String] = []
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) {
            let chunk = buffer.readString(length: buffer.readableBytes) ?? ""
            lines += chunk.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        }
        return lines
    }

    @Test("pipelined requests get one reply each, in order")
    func pipelined() throws {
        let (channel, scheduler) = try Self.channel()
        defer { scheduler.shutdown(wait: true) }
        let replies = try Self.exchange(channel, "PING\nSUBMIT noop\nLATEST\nNOPE\n")
        #expect(replies.count == 4)
        #expect(replies[0].hasPrefix("OK {\"pid\""))
        #expect(replies[1].hasPrefix("OK {\"id\""))
        #expect(replies[2].hasPrefix("OK {\"latest_id\""))
        #expect(replies[3].hasPrefix("ERR unknown-verb"))
    }

    @Test("a line that is not UTF-8 gets invalid-utf8 and the connection keeps serving")
    func invalidUTF8() throws {
        let (channel, scheduler) = try Self.channel()
        defer { scheduler.shutdown(wait: true) }
        var buffer = channel.allocator.buffer(capacity: 8)
        buffer.writeBytes([0x50, 0xFF, 0x0A])
        try channel.writeInbound(buffer)
        let replies = try Self.exchange(channel, "PING\n")
        #expect(replies.count == 2)
        #expect(replies[0].hasPrefix("ERR invalid-utf8"))
        #expect(replies[1].hasPrefix("OK"))
    }

    @Test("a line over the limit is answered after the lines before it, then our side closes")
    func lineTooLong() throws {
        let (channel, scheduler) = try Self.channel(maxLineBytes: 16)
        defer { scheduler.shutdown(wait: true) }
        let replies = try Self.exchange(channel, "PING\n" + String(repeating: "x", count: 100) + "\nPING\n")
        #expect(replies.count == 2)
        #expect(replies[0].hasPrefix("OK"))
        #expect(replies[1].hasPrefix("ERR line-too-long"))
    }

    @Test("at the end of input the replies owed are written and the channel closes")
    func closesAtEndOfInput() throws {
        let (channel, scheduler) = try Self.channel()
        defer { scheduler.shutdown(wait: true) }
        #expect(try Self.exchange(channel, "PING\n").count == 1)
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        channel.embeddedEventLoop.run()
        #expect(channel.isActive == false)
    }
}
