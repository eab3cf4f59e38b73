import NIOCore
import PyBackgroundProtocol
import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The stream of one `EVENTS` request: the events that pass its filter, one `EVENT` line each,
/// until the client closes or the daemon stops.
///
/// Events arrive on any thread and wait in a buffer of at most `capacity`; the event loop writes
/// them while the channel takes them, many lines per write. A reader that does not keep up never
/// slows anything: once the buffer is full, further events are dropped and counted, and when the
/// reader has caught up with the buffer it gets `{"event":"lagged","missed":N}`, then the events
/// from there on (`events.on_lag: skip`), or the connection ends after it (`close`).
final class EventStream: ControlStream {
    private let buffer: Buffer
    private let closeOnLag: Bool
    private let events: TaskEvents
    private let eventLoop: any EventLoop
    private var output: StreamOutput?

    /// The events waiting for the event loop: the part other threads touch.
    private final class Buffer: TaskEventSink {
        let filter: EventFilter
        let capacity: Int
        let eventLoop: any EventLoop
        let state = Mutex(State())
        /// The event loop's pump, set while the stream runs.
        let pump = Mutex<(@Sendable () -> Void)?>(nil)

        struct State {
            var waiting: [TaskEvent] = []
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
            let wake = state.withLock { state -> Bool in
                guard !state.stopped else { return false }
                if state.waiting.count >= capacity {
                    state.missed += 1
                } else {
                    state.waiting.append(event)
                }
                defer { state.wakeScheduled = true }
                return !state.wakeScheduled
            }
            guard wake, let pump = pump.withLock({ $0 }) else { return }
            eventLoop.execute(pump)
        }
    }

    init(filter: EventFilter, capacity: Int, closeOnLag: Bool, events: TaskEvents, eventLoop: any EventLoop) {
        self.buffer = Buffer(filter: filter, capacity: capacity, eventLoop: eventLoop)
        self.closeOnLag = closeOnLag
        self.events = events
        self.eventLoop = eventLoop
    }

    func start(_ output: StreamOutput) {
        self.output = output
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        buffer.pump.withLock { $0 = { bound.value.pump() } }
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

    /// The most events encoded into one write.
    private static let batch = 512

    private func pump() {
        guard let output else { return }
        while output.isWritable {
            let closeOnLag = self.closeOnLag
            let (taken, missed) = buffer.state.withLock { state -> ([TaskEvent], Int) in
                let count = min(Self.batch, state.waiting.count)
                let taken = Array(state.waiting.prefix(count))
                state.waiting.removeFirst(count)
                var missed = 0
                // The gap is told once the events from before it are out.
                if state.waiting.isEmpty && state.missed > 0 {
                    missed = state.missed
                    state.missed = 0
                    if closeOnLag { state.stopped = true }
                }
                if taken.isEmpty && missed == 0 { state.wakeScheduled = false }
                return (taken, missed)
            }
            if taken.isEmpty && missed == 0 { return }
            var lines = taken.map { StreamLine.event($0.json) }
            if missed > 0 {
                lines.append(.event(ProtocolJSON.encode(TaskEventPayload(event: .lagged, at: Date().timeIntervalSince1970, missed: missed))))
            }
            output.write(lines)
            if missed > 0 && closeOnLag {
                events.unsubscribe(buffer)
                buffer.pump.withLock { $0 = nil }
                self.output = nil
                output.closeWhenWritten()
                return
            }
        }
        // Not writable: `writable()` pumps again. Until then no event schedules a pump (one hop
        // per event would load the event loop the reader is not reading from).
        buffer.state.withLock { $0.wakeScheduled = true }
    }
}
