import NIOCore
import PyBackground
import PyBackgroundProtocol

/// LOG, FOLLOW and EVENTS: the verbs whose reply is a stream.
extension ControlRequestHandler {
    /// `LOG id` (what is kept now) and `FOLLOW id…` (until each has ended).
    func output(of ids: [String], streams: OutputSelection, following: Bool, eventLoop: any EventLoop) -> ControlReply {
        var futures: [Future] = []
        for id in ids {
            switch resolve(id) {
            case .success(let future):
                if !futures.contains(where: { $0 === future }) { futures.append(future) }
            case .failure(let error) where triesSharedStore(after: error):
                return sharedOutput(of: ids, streams: streams, following: following, eventLoop: eventLoop)
            case .failure(let error): return .now(Response(error))
            }
        }
        let stream = OutputFollow(futures, streams: streams, following: following, outputs: launcher.outputs, eventLoop: eventLoop)
        return .stream(ProtocolJSON.encode(FollowPayload(ids: futures.map(\.id.description))), stream)
    }

    /// `EVENTS [filter]`.
    func events(_ filter: EventFilter, eventLoop: any EventLoop) -> ControlReply {
        if isShuttingDown { return .now(.error(.shuttingDown, "the daemon is shutting down; no more events will come")) }
        let settings = eventSettings
        let stream = EventStream(
            filter: filter, capacity: settings.buffer, closeOnLag: settings.onLag == .close, events: launcher.events, eventLoop: eventLoop)
        return .stream(ProtocolJSON.encode(EventsPayload(buffer: settings.buffer, onLag: settings.onLag.rawValue)), stream)
    }
}
