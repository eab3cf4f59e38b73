import NIOCore
import PyBackground
import PyBackgroundProtocol
import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The stream of one `EVENTS` request: the events that pass its filter, one `EVENT` line each,
/// until the client ends its input or the daemon stops.
///
/// An event is encoded on the thread that publishes it (a worker, mostly) into an
/// ``EventLineQueue`` of at most `capacity` events; the event loop only hands what waits to the
/// channel, in one write, while the channel takes it. A reader that does not keep up never slows
/// anything: once `capacity` events wait, further ones are dropped and counted, and when what
/// waited is out the reader gets `{"event":"lagged","missed":N}`, then the events from there on
/// (`events.on_lag: skip`), or the connection ends after it (`close`).
final class EventStream: ControlStream {
    private let buffer: Buffer
    private let closeOnLag: Bool
    private let events: TaskEvents
    private let eventLoop: any EventLoop
    private var output: StreamOutput?

    /// The sink other threads call: filters, encodes, queues and wakes the event loop.
    private final class Buffer: TaskEventSink {
        let filter: EventFilter
        let lines: EventLineQueue
        let eventLoop: any EventLoop
        /// The event loop's pump, set while the stream runs.
        let pump = Mutex<StoredHandler<Void>?>(nil)

        init(filter: EventFilter, capacity: Int, eventLoop: any EventLoop) {
            self.filter = filter
            self.lines = EventLineQueue(capacity: capacity)
            self.eventLoop = eventLoop
        }

        func receive(_ event: TaskEvent) {
            guard filter.matches(event.kind, id: event.id.description, task: event.task, queue: event.queue) else { return }
            let push = lines.push(maximumBytes: event.lineCapacity) { bytes in
                var writer = JSONBytesWriter(bytes)
                event.writeLine(into: &writer)
                return writer.count
            }
            guard push == .done(wake: true), let pump = pump.withLock({ $0 }) else { return }
            eventLoop.execute { pump.call(()) }
        }
    }

    init(filter: EventFilter, capacity: Int, closeOnLag: Bool, events: TaskEvents, eventLoop: any EventLoop) {
        self.buffer = Buffer(filter: filter, capacity: capacity, eventLoop: eventLoop)
        self.closeOnLag = closeOnLag
        self.events = events
        self.eventLoop = eventLoop
    }

    var endsWithInput: Bool { true }

    func start(_ output: StreamOutput) {
        self.output = output
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        buffer.pump.withLock { $0 = StoredHandler { _ in bound.value.pump() } }
        events.subscribe(buffer)
    }

    func writable() { pump() }

    func stop(reason: String?) {
        guard !buffer.lines.stop() else { return }
        events.unsubscribe(buffer)
        buffer.pump.withLock { $0 = nil }
        if let reason { output?.end(ProtocolJSON.encode(["reason": reason])) }
        output = nil
    }

    private func pump() {
        guard let output, output.isWritable else {
            // `writable()` pumps again. Until then no event schedules a pump (one hop per event
            // would load the event loop the reader is not reading from).
            buffer.lines.holdWakes()
            return
        }
        var (lines, missed) = buffer.lines.take(stopIfMissed: closeOnLag)
        if missed > 0 {
            // The gap is told after the events from before it.
            let lagged = TaskEventPayload(event: .lagged, at: Date().timeIntervalSince1970, missed: missed)
            lines.writeString(StreamLine.event(ProtocolJSON.encode(lagged)).line + "\n")
        }
        if lines.readableBytes > 0 { output.write(bytes: lines) }
        if missed > 0 && closeOnLag {
            events.unsubscribe(buffer)
            buffer.pump.withLock { $0 = nil }
            self.output = nil
            output.closeWhenWritten()
        }
    }
}
