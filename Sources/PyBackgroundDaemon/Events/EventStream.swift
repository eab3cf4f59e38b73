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
/// An event is encoded on the thread that publishes it (a worker, mostly) into the bytes waiting
/// for this reader, at most `capacity` events of them; the event loop only hands what waits to the
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

    /// The encoded events waiting for the event loop: the part other threads touch.
    private final class Buffer: TaskEventSink {
        let filter: EventFilter
        let capacity: Int
        let eventLoop: any EventLoop
        let state = Mutex(State())
        /// The event loop's pump, set while the stream runs.
        let pump = Mutex<StoredHandler<Void>?>(nil)

        struct State {
            var bytes = ByteBufferAllocator().buffer(capacity: 0)
            var count = 0
            var missed = 0
            /// A pump is scheduled, or the channel is full and `writable()` will pump.
            var wakeScheduled = false
            var stopped = false
        }

        init(filter: EventFilter, capacity: Int, eventLoop: any EventLoop) {
            self.filter = filter
            self.capacity = capacity
            self.eventLoop = eventLoop
        }

        func receive(_ event: TaskEvent) {
            guard filter.matches(event.kind, id: event.id.description, task: event.task, queue: event.queue) else { return }
            // Encoded before the lock: the lock is held for a copy only, not shared with the encoding.
            var line = ByteBufferAllocator().buffer(capacity: 256)
            event.writeLine(into: &line)
            let wake = state.withLock { state -> Bool in
                guard !state.stopped else { return false }
                if state.count >= capacity {
                    state.missed += 1
                } else {
                    state.bytes.writeImmutableBuffer(line)
                    state.count += 1
                }
                defer { state.wakeScheduled = true }
                return !state.wakeScheduled
            }
            guard wake, let pump = pump.withLock({ $0 }) else { return }
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
        let wasStopped = buffer.state.withLock { state in
            defer { state.stopped = true }
            return state.stopped
        }
        guard !wasStopped else { return }
        events.unsubscribe(buffer)
        buffer.pump.withLock { $0 = nil }
        if let reason { output?.end(ProtocolJSON.encode(["reason": reason])) }
        output = nil
    }

    private func pump() {
        guard let output, output.isWritable else {
            // `writable()` pumps again. Until then no event schedules a pump (one hop per event
            // would load the event loop the reader is not reading from).
            buffer.state.withLock { $0.wakeScheduled = true }
            return
        }
        let closeOnLag = self.closeOnLag
        let (bytes, missed) = buffer.state.withLock { state -> (ByteBuffer, Int) in
            let bytes = state.bytes
            state.bytes = ByteBufferAllocator().buffer(capacity: 0)
            state.count = 0
            let missed = state.missed
            state.missed = 0
            if missed > 0 && closeOnLag { state.stopped = true }
            // Events from here on schedule a pump of their own.
            state.wakeScheduled = false
            return (bytes, missed)
        }
        var lines = bytes
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
