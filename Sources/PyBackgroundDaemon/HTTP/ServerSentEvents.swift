import PyBackgroundProtocol
import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The event stream for a browser (the dashboard's `EventSource`): each task event as
/// `data: <json>` and a blank line. Bounded as `EVENTS` is: events the page has not taken wait up
/// to `capacity`; past it they are dropped and counted, and once the waiting ones are out a
/// `lagged` event gives the count (the page then reads the tables again). Whatever waits goes out
/// in one write.
final class ServerSentEvents: TaskEventSink {
    /// Yields when events wait; several events may share one wake.
    let wakes: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    private let capacity: Int
    private let state = Mutex<(lines: [String], missed: Int)>(([], 0))

    init(capacity: Int) {
        self.capacity = capacity
        (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func receive(_ event: TaskEvent) {
        state.withLock { state in
            if state.lines.count >= capacity {
                state.missed += 1
            } else {
                state.lines.append("data: \(event.json)\n\n")
            }
        }
        wake.yield()
    }

    /// The events waiting, as one piece of the response (empty when none).
    func take() -> String {
        state.withLock { state in
            var text = state.lines.joined()
            state.lines.removeAll(keepingCapacity: true)
            if state.missed > 0 {
                let lagged = TaskEventPayload(event: .lagged, at: Date().timeIntervalSince1970, missed: state.missed)
                text += "data: \(ProtocolJSON.encode(lagged))\n\n"
                state.missed = 0
            }
            return text
        }
    }

    /// No more events: the response ends.
    func finish() { wake.finish() }
}
