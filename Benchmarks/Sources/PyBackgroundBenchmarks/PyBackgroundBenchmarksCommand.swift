import ArgumentParser
import Foundation

/// Benchmarks of the PyBackground core against a minimal pool and Dispatch, in one process.
/// `scripts/bench` runs it beside the Python original and writes the comparison.
@main
struct PyBackgroundBenchmarksCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pybackground-bench",
        abstract: "Measure the PyBackground scheduler core beside a minimal thread pool and DispatchQueue.")

    @Option(help: "Tasks per throughput run.")
    var tasks = 100_000

    @Option(help: "Throughput runs per contender; the median is reported.")
    var runs = 5

    @Option(help: "Worker threads.")
    var workers = 2

    @Option(help: "Samples for the start-to-body latency.")
    var latencySamples = 2_000

    @Option(help: ArgumentHelp("Run only this contender's throughput (for profiling).", visibility: .hidden))
    var only: String?

    @Flag(help: "Print one JSON object instead of the table.")
    var json = false

    @Option(
        help: "Instead: measure schedule lateness (100 ms interval, per-second cron) for this many seconds, and the idle cost of 10,000 schedules; prints JSON."
    )
    var schedules: Double?

    struct Report: Codable {
        var tasks: Int
        var workers: Int
        var runs: Int
        var throughput: [String: SchedulerBenchmarks.Throughput]
        var throughputAt10k: [String: SchedulerBenchmarks.Throughput]
        var latency: [String: SchedulerBenchmarks.Latency]
        var bytesRetainedPerTask: Double
        var sleepWorkloadSeconds: Double
    }

    func run() throws {
        if let schedules {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(try ScheduleBenchmarks.run(seconds: schedules)), as: UTF8.self))
            return
        }
        let bench = SchedulerBenchmarks(workers: workers)
        if let only {
            let runs: [String: (Int) -> SchedulerBenchmarks.Throughput] = [
                "pybackground": bench.pyBackground, "minimal-pool": bench.minimalPool, "dispatch": bench.dispatchQueue,
            ]
            guard let run = runs[only] else { throw ValidationError("--only takes one of \(runs.keys.sorted())") }
            for _ in 0..<self.runs { print(run(tasks)) }
            return
        }
        func medianRun(_ body: () -> SchedulerBenchmarks.Throughput) -> SchedulerBenchmarks.Throughput {
            _ = body()  // warm-up
            let samples = (0..<runs).map { _ in body() }
            return .init(
                tasksPerSecond: Measure.median(samples.map(\.tasksPerSecond)),
                startMicroseconds: Measure.median(samples.map(\.startMicroseconds)))
        }
        // Interleave contenders per size so that machine noise hits them alike.
        func compare(_ count: Int) -> [String: SchedulerBenchmarks.Throughput] {
            [
                "pybackground": medianRun { bench.pyBackground(tasks: count) },
                "minimal-pool": medianRun { bench.minimalPool(tasks: count) },
                "dispatch": medianRun { bench.dispatchQueue(tasks: count) },
            ]
        }
        let report = Report(
            tasks: tasks, workers: workers, runs: runs,
            throughput: compare(tasks),
            throughputAt10k: compare(10_000),
            latency: [
                "pybackground": bench.pyBackgroundLatency(samples: latencySamples),
                "minimal-pool": bench.minimalPoolLatency(samples: latencySamples),
            ],
            bytesRetainedPerTask: bench.bytesRetainedPerTask(tasks: tasks),
            sleepWorkloadSeconds: bench.sleepingTasks(count: 200, sleep: .milliseconds(10)))
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(render(report))
        }
    }

    private func render(_ report: Report) -> String {
        var lines = ["\(report.tasks) no-op tasks, \(report.workers) workers, median of \(report.runs) runs"]
        for (label, table) in [("N=\(report.tasks)", report.throughput), ("N=10000", report.throughputAt10k)] {
            for name in ["pybackground", "minimal-pool", "dispatch"] {
                let result = table[name]!
                lines.append(
                    String(
                        format: "%@ %-13@ %12.0f tasks/s  %6.2f µs/start", label, name,
                        result.tasksPerSecond, result.startMicroseconds))
            }
        }
        for (name, latency) in report.latency.sorted(by: { $0.key < $1.key }) {
            lines.append(
                String(
                    format: "latency %-13@ p50 %7.1f µs  p99 %7.1f µs", name,
                    latency.p50Microseconds, latency.p99Microseconds))
        }
        lines.append(String(format: "bytes retained per finished task: %.0f", report.bytesRetainedPerTask))
        lines.append(String(format: "200 × 10 ms sleep on %d workers: %.3f s", report.workers, report.sleepWorkloadSeconds))
        return lines.joined(separator: "\n")
    }
}
