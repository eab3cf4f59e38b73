import PyBackground
import PyBackgroundProtocol
import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Where every task state change goes: the scheduler tells it of starts and ends
/// (``TaskObserver``), the launcher of acceptances and retries; it hands each to the sinks
/// subscribed (event streams, metrics). With no sink it reads nothing and makes nothing: one
/// atomic load per change.
final class TaskEvents: TaskObserver {
    private let sinks = ReadMostly<[any TaskEventSink]>([])
    private let sinkCount = Atomic<Int>(0)

    init() {}

    /// Whether any sink listens: callers skip building what only an event needs.
    var isActive: Bool { sinkCount.load(ordering: .relaxed) > 0 }

    func subscribe(_ sink: any TaskEventSink) {
        sinks.write { sinks in
            sinks.append(sink)
            sinkCount.store(sinks.count, ordering: .relaxed)
        }
    }

    func unsubscribe(_ sink: any TaskEventSink) {
        sinks.write { sinks in
            sinks.removeAll { $0 === sink }
            sinkCount.store(sinks.count, ordering: .relaxed)
        }
    }

    /// Hands an event to every sink; `event` is made only if one listens.
    func publish(_ event: @autoclosure () -> TaskEvent) {
        guard isActive else { return }
        let made = event()
        sinks.read { sinks in
            for sink in sinks { sink.receive(made) }
        }
    }

    // MARK: - From the scheduler and the launcher

    func taskStarted(_ future: Future) {
        publish(TaskEvent(.started, future))
    }

    func taskEnded(_ future: Future) {
        guard isActive else { return }
        let kind: TaskEventKind =
            switch future.state {
            case .finished: .finished
            case .cancelled: .cancelled
            case .interrupted: .interrupted
            default: .failed
            }
        publish(TaskEvent(kind, future))
    }

    /// A submission was accepted (and is durable) and is about to be started: `submitted`, or
    /// `scheduled` for a later time. Told before the scheduler has it, so that it comes before
    /// the task's `started`.
    func accepted(_ record: TaskRecord) {
        publish(TaskEvent(accepted: record))
    }

    /// An attempt failed and another is due.
    func retrying(_ future: Future) {
        publish(TaskEvent(.retrying, future))
    }
}
