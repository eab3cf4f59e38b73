import NIOCore
import PyBackground
import PyBackgroundProtocol

/// The reply of a submission that the store makes durable later: the id it will get (or the
/// store's failure), and how that becomes the reply line. One callback per submission on the
/// event loop, no intermediate future.
struct DurableReply {
    let id: EventLoopFuture<TaskID>
    let respond: @Sendable (Result<TaskID, any Error>) -> Response

    init(_ id: EventLoopFuture<TaskID>, respond: @escaping @Sendable (Result<TaskID, any Error>) -> Response) {
        self.id = id
        self.respond = respond
    }
}
