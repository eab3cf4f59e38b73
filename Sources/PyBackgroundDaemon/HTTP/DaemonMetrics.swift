import CoreMetrics
import Prometheus
import PyBackground
import PyBackgroundProtocol
import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The daemon's Prometheus metrics, recorded through swift-metrics into a swift-prometheus
/// registry of its own (no global bootstrap: an application embedding the daemon keeps its own
/// metrics system). Counters and histograms are fed by task events; gauges are read from the
/// scheduler when scraped.
///
/// | metric | type | labels |
/// |---|---|---|
/// | `pybgd_tasks_submitted_total` | counter | task, queue |
/// | `pybgd_tasks_completed_total` | counter | task, queue, outcome (finished, failed, cancelled, interrupted) |
/// | `pybgd_task_retries_total` | counter | task, queue |
/// | `pybgd_task_duration_seconds` | histogram | task, queue |
/// | `pybgd_tasks` | gauge | state (scheduled, waiting, pending, running, retrying) |
/// | `pybgd_queue_tasks` | gauge | queue, state (pending, running) |
/// | `pybgd_workers`, `pybgd_workers_busy`, `pybgd_connections` | gauge | |
/// | `pybgd_state_commit_seconds` | histogram | |
/// | `pybgd_schedule_lateness_seconds` | histogram | schedule |
final class DaemonMetrics: TaskEventSink {
    let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    let throughput = ThroughputHistory()

    private struct Labels: Hashable {
        var task: String
        var queue: String
    }

    /// The series of one task name in one queue, made together at its first event (each
    /// outcome at 0, so that a rate over it starts at the first task, not the first failure):
    /// one lookup per event, by two short strings.
    private struct TaskSeries {
        let submitted: CoreMetrics.Counter
        let retries: CoreMetrics.Counter
        let duration: CoreMetrics.Timer
        let finished, failed, cancelled, interrupted: CoreMetrics.Counter

        init(_ labels: Labels, factory: PrometheusMetricsFactory) {
            let dimensions = [("task", labels.task), ("queue", labels.queue)]
            func completed(_ outcome: TaskEventKind) -> CoreMetrics.Counter {
                CoreMetrics.Counter(
                    label: "pybgd_tasks_completed_total", dimensions: dimensions + [("outcome", outcome.rawValue)], factory: factory)
            }
            submitted = CoreMetrics.Counter(label: "pybgd_tasks_submitted_total", dimensions: dimensions, factory: factory)
            retries = CoreMetrics.Counter(label: "pybgd_task_retries_total", dimensions: dimensions, factory: factory)
            duration = CoreMetrics.Timer(label: "pybgd_task_duration_seconds", dimensions: dimensions, factory: factory)
            (finished, failed, cancelled, interrupted) = (completed(.finished), completed(.failed), completed(.cancelled), completed(.interrupted))
        }

        func completed(_ outcome: TaskEventKind) -> CoreMetrics.Counter? {
            switch outcome {
            case .finished: finished
            case .failed: failed
            case .cancelled: cancelled
            case .interrupted: interrupted
            default: nil
            }
        }
    }

    private let series = ReadMostly<[Labels: TaskSeries]>([:])
    private let lateness = ReadMostly<[String: CoreMetrics.Timer]>([:])
    private let commit: CoreMetrics.Timer

    init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        // Tasks run from milliseconds to hours.
        factory.durationHistogramBuckets["pybgd_task_duration_seconds"] = [
            .milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5), .seconds(10),
            .seconds(30), .seconds(60), .seconds(300), .seconds(900), .seconds(3600), .seconds(14400),
        ]
        // An fsync'd commit takes a millisecond or so; a slow disk, much more.
        factory.durationHistogramBuckets["pybgd_state_commit_seconds"] = [
            .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1),
        ]
        factory.durationHistogramBuckets["pybgd_schedule_lateness_seconds"] = [
            .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(500),
            .seconds(1), .seconds(5), .seconds(30), .seconds(60), .seconds(300),
        ]
        self.factory = factory
        self.commit = CoreMetrics.Timer(label: "pybgd_state_commit_seconds", factory: factory)
    }

    // MARK: - Events

    func receive(_ event: TaskEvent) {
        switch event.kind {
        case .submitted, .scheduled:
            series(event).submitted.increment()
        case .started:
            if let tick = event.scheduleTick, let schedule = event.schedule {
                lateness(schedule).recordSeconds(max(0, event.at.timeIntervalSince(tick)))
            }
        case .retrying:
            series(event).retries.increment()
        case .finished, .failed, .cancelled, .interrupted:
            let series = series(event)
            series.completed(event.kind)?.increment()
            if let duration = event.durationSeconds { series.duration.recordSeconds(duration) }
            throughput.record(event.kind.rawValue, at: event.at)
        case .lagged:
            break
        }
    }

    /// A commit of the state store took `duration`.
    func committed(in duration: Duration) {
        commit.recordNanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }

    // MARK: - Scrape

    /// The exposition: gauges set from `statistics` first.
    func exposition(_ statistics: SchedulerStatistics, queues: [QueueStatistics], workers: Int, connections: Int) -> String {
        for (state, value) in [
            ("scheduled", statistics.scheduled), ("waiting", statistics.waiting), ("pending", statistics.pending),
            ("running", statistics.running), ("retrying", statistics.retrying),
        ] {
            gauge("pybgd_tasks", [("state", state)]).record(value)
        }
        for queue in queues {
            gauge("pybgd_queue_tasks", [("queue", queue.name), ("state", "pending")]).record(queue.pending)
            gauge("pybgd_queue_tasks", [("queue", queue.name), ("state", "running")]).record(queue.running)
        }
        gauge("pybgd_workers", []).record(workers)
        gauge("pybgd_workers_busy", []).record(statistics.running)
        gauge("pybgd_connections", []).record(connections)
        return registry.emitToString()
    }

    // MARK: - Handles

    private func series(_ event: TaskEvent) -> TaskSeries {
        let labels = Labels(task: event.task, queue: event.queue)
        return series.value(for: labels) { TaskSeries(labels, factory: factory) }
    }

    private func lateness(_ schedule: String) -> CoreMetrics.Timer {
        lateness.value(for: schedule) {
            CoreMetrics.Timer(label: "pybgd_schedule_lateness_seconds", dimensions: [("schedule", schedule)], factory: factory)
        }
    }

    private func gauge(_ name: String, _ dimensions: [(String, String)]) -> CoreMetrics.Gauge {
        CoreMetrics.Gauge(label: name, dimensions: dimensions, factory: factory)
    }
}
