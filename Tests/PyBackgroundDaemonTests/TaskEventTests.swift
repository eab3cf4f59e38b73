import Foundation
import PyBackground
import PyBackgroundProtocol
import Testing

@testable import PyBackgroundDaemon

@Suite("Task events as the event stream writes them")
struct TaskEventTests {
    static func event(_ kind: TaskEventKind, at: Double, task: String = "backup", queue: String = "default") -> TaskEvent {
        let scheduler = BackgroundScheduler(maxWorkers: 1)
        let id = try! scheduler.start({ () in 1 }, name: task)
        let future = scheduler.futures[id]!
        _ = future.wait(timeout: .seconds(10))
        var event = TaskEvent(kind, future, at: Date(timeIntervalSince1970: at))
        event.queue = queue
        scheduler.shutdown(wait: true)
        return event
    }

    @Test(
        "the hand-written JSON of an event is what JSONEncoder writes for its payload",
        arguments: [
            { Self.event(.submitted, at: 1_795_572_591) },
            { Self.event(.started, at: 1_795_572_591.72) },
            {
                var event = Self.event(.retrying, at: 1_795_572_591.123456, queue: "io")
                event.attempt = 2
                event.retryAt = Date(timeIntervalSince1970: 1_795_572_600.5)
                return event
            },
            {
                var event = Self.event(.failed, at: 0.1)
                event.error = "exit-status"
                event.durationSeconds = 1.7881393432617188e-05
                return event
            },
            {
                var event = Self.event(.cancelled, at: 1e9, task: "t-1.x_2")
                event.error = "needs \"escaping\"\n"
                return event
            },
            {
                var event = Self.event(.scheduled, at: 1_795_572_591.5)
                event.runAt = Date(timeIntervalSince1970: 1_795_572_999.25)
                return event
            },
        ] as [@Sendable () -> TaskEvent])
    func jsonMatchesEncoder(make: @Sendable () -> TaskEvent) throws {
        let event = make()
        #expect(event.json == ProtocolJSON.encode(event.payload))
        #expect(try ProtocolJSON.decode(TaskEventPayload.self, from: event.json) == event.payload)
    }

    @Test("an event read from an ended future carries its duration; a finished one no error")
    func fromFuture() {
        let event = Self.event(.finished, at: 1)
        #expect(event.task == "backup" && event.error == nil && event.durationSeconds != nil)
    }
}
