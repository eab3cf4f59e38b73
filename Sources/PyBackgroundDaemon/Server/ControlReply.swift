import NIOCore
import PyBackgroundProtocol

/// A request's reply: ready now, or later (WAIT, SHUTDOWN wait). Either way the connection
/// writes replies in the order the requests came.
enum ControlReply {
    case now(Response)
    case later(EventLoopFuture<Response>)
}

/// What the server knows of a connection's peer.
struct ConnectionInfo: Sendable {
    /// A number for log lines, unique within this daemon's life.
    let number: Int
}
