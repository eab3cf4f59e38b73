import NIOCore
import PyBackgroundProtocol

/// A request's reply. Whichever kind, the connection writes replies in the order the requests came.
enum ControlReply {
    /// Ready now.
    case now(Response)
    /// Ready later, and the requests after it wait for it (WAIT, SHUTDOWN wait, CLEAN): they see
    /// its effects.
    case later(EventLoopFuture<Response>)
    /// Ready once the submission is on disk. Further SUBMITs are evaluated meanwhile, so that a
    /// pipelined burst shares one commit; any other request waits for the replies owed before it.
    case durable(DurableReply)
    /// `OK` with this JSON, then the stream's lines until it ends (LOG, FOLLOW, EVENTS): the
    /// requests after it wait for its end.
    case stream(String, any ControlStream)
    /// A stream whose start must wait (its tasks are looked up in a store several hosts share):
    /// once the future is ready, either an error reply or `OK` with the JSON, then the stream the
    /// factory makes (on the connection's event loop). The requests after it wait, as for `later`.
    case laterStream(EventLoopFuture<StreamStart>)
}

/// How a ``ControlReply/laterStream(_:)`` begins.
enum StreamStart: Sendable {
    case refused(Response)
    case stream(String, @Sendable () -> any ControlStream)
}

/// What the server knows of a connection's peer.
struct ConnectionInfo: Sendable {
    /// A number for log lines, unique within this daemon's life.
    let number: Int
    /// The client process, as the kernel saw it connect.
    let peer: PeerCredentials
    /// Where its accepted submissions are logged.
    let audit: SubmissionAudit
}
