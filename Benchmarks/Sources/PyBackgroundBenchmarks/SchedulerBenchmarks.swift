import CHeapUsage
import Dispatch
import Foundation
import PyBackground
import Synchronization

/// The issue-2 measurements: each run of the scheduler is paired with the same run of the floors.
struct SchedulerBenchmarks {
    var workers = 2

    struct Throughput: Codable {
        var tasksPerSecond: Double
        var startMicroseconds: Double
    }

    /// N no-op tasks started, then shutdown(wait: true): the whole life of a batch.
    func pyBackground(tasks: Int) -> Throughput {
        let scheduler = BackgroundScheduler(maxWorkers: workers)
        var startLoop = 0.0
        let total = Measure.seconds {
            startLoop = Measure.seconds {
                for _ in 0..<tasks { try! scheduler.start({}) }
            }
            scheduler.shutdown(wait: true)
        }
        precondition(scheduler.statistics.finished == tasks, "lost tasks: \(scheduler.statistics)")
        return Throughput(tasksPerSecond: Double(tasks) / total, startMicroseconds: startLoop / Double(tasks) * 1e6)
    }

    func minimalPool(tasks: Int) -> Throughput {
        let done = Atomic<Int>(0)
        var startLoop = 0.0
        let total = Measure.seconds {
            let pool = MinimalThreadPool(threads: workers)
            startLoop = Measure.seconds {
                for _ in 0..<tasks { pool.submit { done.add(1, ordering: .relaxed) } }
            }
            pool.shutdown()
        }
        precondition(done.load(ordering: .relaxed) == tasks)
        return Throughput(tasksPerSecond: Double(tasks) / total, startMicroseconds: startLoop / Double(tasks) * 1e6)
    }

    func dispatchQueue(tasks: Int) -> Throughput {
        let queue = DispatchQueue(label: "bench", attributes: .concurrent)
        let group = DispatchGroup()
        let done = Atomic<Int>(0)
        var startLoop = 0.0
        let total = Measure.seconds {
            startLoop = Measure.seconds {
                for _ in 0..<tasks { queue.async(group: group) { done.add(1, ordering: .relaxed) } }
            }
            group.wait()
        }
        precondition(done.load(ordering: .relaxed) == tasks)
        return Throughput(tasksPerSecond: Double(tasks) / total, startMicroseconds: startLoop / Double(tasks) * 1e6)
    }

    struct Latency: Codable {
        var p50Microseconds: Double
        var p99Microseconds: Double
    }

    /// Samples taken and dropped before those kept, on both sides alike: the scheduler starts its
    /// workers at the first task (as `ThreadPoolExecutor` does) where the floor pool starts them
    /// when made, and the first tasks of either run on cold caches and bind their symbols. Without
    /// them the scheduler's p99 of 2,000 samples was its first twenty tasks (issue 20).
    static let warmUpSamples = 100

    /// Start → first line of the body, one task at a time on an idle pool.
    func pyBackgroundLatency(samples: Int) -> Latency {
        let scheduler = BackgroundScheduler(maxWorkers: workers)
        var latencies: [Double] = []
        latencies.reserveCapacity(samples + Self.warmUpSamples)
        for _ in 0..<samples + Self.warmUpSamples {
            Measure.letWorkersFallAsleep()
            let started = Measure.nanosecondsNow
            let id = try! scheduler.start({ Measure.nanosecondsNow })
            let entered = try! scheduler.futures[id]!.result(as: UInt64.self)
            latencies.append(Double(entered - started) / 1000)
        }
        scheduler.shutdown()
        latencies.removeFirst(Self.warmUpSamples)
        return Latency(p50Microseconds: Measure.percentile(latencies, 0.5), p99Microseconds: Measure.percentile(latencies, 0.99))
    }

    func minimalPoolLatency(samples: Int) -> Latency {
        let pool = MinimalThreadPool(threads: workers)
        let entered = Mutex<UInt64>(0)
        let condition = NSCondition()
        var latencies: [Double] = []
        for _ in 0..<samples + Self.warmUpSamples {
            entered.withLock { $0 = 0 }
            Measure.letWorkersFallAsleep()
            let started = Measure.nanosecondsNow
            pool.submit {
                entered.withLock { $0 = Measure.nanosecondsNow }
                condition.lock()
                condition.signal()
                condition.unlock()
            }
            condition.lock()
            while entered.withLock({ $0 }) == 0 { condition.wait() }
            condition.unlock()
            latencies.append(Double(entered.withLock { $0 } - started) / 1000)
        }
        pool.shutdown()
        latencies.removeFirst(Self.warmUpSamples)
        return Latency(p50Microseconds: Measure.percentile(latencies, 0.5), p99Microseconds: Measure.percentile(latencies, 0.99))
    }

    /// Heap growth per finished task kept in the tables (retention unbounded, as the seed).
    func bytesRetainedPerTask(tasks: Int) -> Double {
        let scheduler = BackgroundScheduler(maxWorkers: workers)
        try! scheduler.start({})
        scheduler.awaitTermination(timeout: .zero)
        let before = heap_bytes_in_use()
        for _ in 0..<tasks { try! scheduler.start({}) }
        scheduler.shutdown(wait: true)
        let after = heap_bytes_in_use()
        precondition(scheduler.futures.count == tasks + 1)
        return Double(Int(after) - Int(before)) / Double(tasks)
    }

    /// 200 tasks of 10 ms sleep on 2 workers: ideal 1.0 s.
    func sleepingTasks(count: Int, sleep: Duration) -> Double {
        let scheduler = BackgroundScheduler(maxWorkers: workers)
        let micros = UInt32(sleep.components.seconds * 1_000_000 + sleep.components.attoseconds / 1_000_000_000_000)
        return Measure.seconds {
            for _ in 0..<count { try! scheduler.start({ usleep(micros) }) }
            scheduler.shutdown(wait: true)
        }
    }
}
