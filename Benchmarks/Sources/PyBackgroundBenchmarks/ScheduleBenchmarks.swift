import Foundation
import PyBackground
import Synchronization

/// How late the library's schedules fire, and what waiting schedules cost: the figures of
/// issue 16's speed target, measured the same way as `scripts/bench_apscheduler.py` measures
/// APScheduler.
struct ScheduleBenchmarks {
    struct Lateness: Codable {
        var firings: Int
        var expected: Int
        /// Firings due in the window that did not run (planned grid points without a run).
        var missed: Int
        var p50Milliseconds: Double
        var p99Milliseconds: Double
        var maxMilliseconds: Double
    }

    struct Report: Codable {
        var seconds: Double
        var interval100ms: Lateness
        var cronEverySecond: Lateness
        /// CPU time of the whole process while 10,000 schedules wait, as a share of one core.
        var idleCoreShareWith10kSchedules: Double
    }

    /// A 100 ms interval and a per-second cron schedule side by side on one scheduler (2 workers)
    /// for `seconds`; then 10,000 schedules that do not fire during a 10 s idle window.
    static func run(seconds: Double) throws -> Report {
        let scheduler = BackgroundScheduler(maxWorkers: 2)
        let intervalTimes = Mutex<[Date]>([])
        let cronTimes = Mutex<[Date]>([])
        let registered = Date()
        let start = registered.addingTimeInterval(0.5)
        let interval = try scheduler.every(.milliseconds(100), startingAt: start, name: "interval") {
            intervalTimes.withLock { $0.append(Date()) }
        }
        let cron = try scheduler.cron(CronExpression("* * * * * *"), timeZone: TimeZone(identifier: "UTC")!, name: "cron") {
            cronTimes.withLock { $0.append(Date()) }
        }
        Thread.sleep(forTimeInterval: 0.5 + seconds)
        interval.cancel()
        cron.cancel()
        let end = Date()
        let cronStart = Date(timeIntervalSince1970: registered.timeIntervalSince1970.rounded(.up))
        let report = Report(
            seconds: seconds,
            interval100ms: lateness(intervalTimes.withLock { $0 }, grid: start, period: 0.1, end: end),
            cronEverySecond: lateness(cronTimes.withLock { $0 }, grid: cronStart, period: 1, end: end),
            idleCoreShareWith10kSchedules: try idleShare(scheduler: scheduler))
        scheduler.shutdown(wait: true)
        return report
    }

    /// Lateness of each run against the grid point it belongs to; grid points from `grid` to 50 ms
    /// before `end` (a later one's run may be in flight when the schedule is cancelled) without a
    /// run count as missed.
    static func lateness(_ times: [Date], grid: Date, period: Double, end: Date) -> Lateness {
        var late: [Double] = []
        var covered = Set<Int>()
        for time in times {
            let index = Int(((time.timeIntervalSince(grid)) / period).rounded(.down))
            late.append((time.timeIntervalSince(grid) - Double(index) * period) * 1000)
            covered.insert(index)
        }
        let expected = max(0, Int(((end.timeIntervalSince(grid) - 0.05) / period).rounded(.down)) + 1)
        let missed = (0..<expected).filter { !covered.contains($0) }.count
        late.sort()
        func percentile(_ p: Double) -> Double { late.isEmpty ? 0 : late[min(late.count - 1, Int(Double(late.count) * p))] }
        return Lateness(
            firings: times.count, expected: expected, missed: missed, p50Milliseconds: percentile(0.5), p99Milliseconds: percentile(0.99),
            maxMilliseconds: late.last ?? 0)
    }

    /// The process's CPU time over 10 s while 10,000 schedules (hourly intervals and a daily cron)
    /// wait, divided by the wall time.
    static func idleShare(scheduler: Scheduler) throws -> Double {
        var schedules: [RecurringSchedule] = []
        for index in 0..<10_000 {
            if index % 2 == 0 {
                schedules.append(try scheduler.every(.seconds(3600), name: "idle-\(index)") {})
            } else {
                schedules.append(try scheduler.cron(CronExpression("0 3 * * *"), timeZone: TimeZone(identifier: "UTC")!, name: "idle-\(index)") {})
            }
        }
        Thread.sleep(forTimeInterval: 1)  // let the registrations settle
        let before = cpuSeconds()
        let wallStart = Date()
        Thread.sleep(forTimeInterval: 10)
        let share = (cpuSeconds() - before) / Date().timeIntervalSince(wallStart)
        for schedule in schedules { schedule.cancel() }
        return share
    }

    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
}
