import NIOCore

/// How long a refused connection's remaining input is read and dropped before it is closed.
private let lingerAfterRefusal = TimeAmount.seconds(2)

extension ChannelHandlerContext {
    /// Writes `last` (what is already written goes before it) and closes without losing it:
    /// closing with the client's input unread makes the kernel reset the connection, and the
    /// client would lose the reply. So our side is shut once it is written, what still comes is
    /// dropped, and the connection closes at the client's end (or after a linger).
    func closeAfterLastReply(_ last: NIOAny) {
        writeAndFlush(last).assumeIsolated().whenComplete { _ in
            self.close(mode: .output, promise: nil)
        }
        eventLoop.assumeIsolated().scheduleTask(in: lingerAfterRefusal) {
            self.close(promise: nil)
        }
    }
}
