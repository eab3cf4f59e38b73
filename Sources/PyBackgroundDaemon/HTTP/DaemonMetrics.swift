import CoreMetrics
import Prometheus
import PyBackground
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

    private struct Key: Hashable {
        var name: String
        var task: String
        var queue: String
        var outcome: String
    }

    private let counters = ReadMostly<[Key: CoreMetrics.Counter]>([:])
    private let timers = ReadMostly<[Key: CoreMetrics.Timer]>([:])
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
            counter("pybgd_tasks_submitted_total", event).increment()
        case .started:
            if let tick = event.scheduleTick, let schedule = event.schedule {
                timer(Key(name: "pybgd_schedule_lateness_seconds", task: "", queue: "", outcome: schedule), dimensions: [("schedule", schedule)])
                    .recordSeconds(max(0, event.at.timeIntervalSince(tick)))
            }
        case .retrying:
            counter("pybgd_task_retries_total", event).increment()
        case .finished, .failed, .cancelled, .interrupted:
            counter("pybgd_tasks_completed_total", event, outcome: event.kind.rawValue).increment()
            if let duration = event.durationSeconds {
                timer(
                    Key(name: "pybgd_task_duration_seconds", task: event.task, queue: event.queue, outcome: ""),
                    dimensions: [("task", event.task), ("queue", event.queue)]
                ).recordSeconds(duration)
            }
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

    private func counter(_ name: String, _ event: TaskEvent, outcome: String? = nil) -> CoreMetrics.Counter {
        let key = Key(name: name, task: event.task, queue: event.queue, outcome: outcome ?? "")
        if let counter = counters.read({ $0[key] }) { return counter }
        var dimensions = [("task", event.task), ("queue", event.queue)]
        if let outcome { dimensions.append(("outcome", outcome)) }
        let counter = CoreMetrics.Counter(label: name, dimensions: dimensions, factory: factory)
        counters.write { $0[key] = counter }
        return counter
    }

    private func timer(_ key: Key, dimensions: [(String, String)]) -> CoreMetrics.Timer {
        if let timer = timers.read({ $0[key] }) { return timer }
        let timer = CoreMetrics.Timer(label: key.name, dimensions: dimensions, factory: factory)
        timers.write { $0[key] = timer }
        return timer
    }

    private func gauge(_ name: String, _ dimensions: [(String, String)]) -> CoreMetrics.Gauge {
        CoreMetrics.Gauge(label: name, dimensions: dimensions, factory: factory)
    }
}
