import Foundation

/// Wall-clock helpers shared by the benchmark runs.
enum Measure {
    static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// Pauses long enough for idle workers to stop spinning and sleep, so that a latency sample
    /// measures the wake-up of an idle pool, not a hand-off to a busy one.
    static func letWorkersFallAsleep() {
        usleep(2_000)
    }

    static var nanosecondsNow: UInt64 { DispatchTime.now().uptimeNanoseconds }

    static func median(_ values: [Double]) -> Double {
        percentile(values, 0.5)
    }

    static func percentile(_ values: [Double], _ fraction: Double) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return .nan }
        let index = min(sorted.count - 1, Int((Double(sorted.count - 1) * fraction).rounded()))
        return sorted[index]
    }
}
