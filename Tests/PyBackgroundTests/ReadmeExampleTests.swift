import Foundation
import PyBackground
import PyBackgroundTesting
import Testing

// The README's "Library" section, compiled and run: the seed's quick start in Swift.
// (Costs are shortened from 1 s so the suite stays fast.)

@Suite("README library examples")
struct ReadmeExampleTests {
    @Test("the quick start runs now and utcnow and shuts down after both")
    func quickStart() throws {
        @Sendable func now(cost: Double = 1) -> String {
            Thread.sleep(forTimeInterval: cost)
            return "\(Date.now)"
        }
        @Sendable func utcnow(cost: Double = 1) -> String {
            Thread.sleep(forTimeInterval: cost)
            return Date.now.ISO8601Format()
        }

        let sched = BackgroundScheduler()
        let first = try sched.start(now, args: 0.01, name: "now")
        let second = try sched.start(utcnow, args: 0.01, name: "utcnow")
        sched.shutdown(wait: true)

        #expect(sched.futures[first]?.state == .finished)
        #expect(try sched.futures[second]?.result(as: String.self).hasSuffix("Z") == true)
    }

    @Test("the infinite loop ends when the scheduler stops")
    func infiniteLoop() throws {
        let sched = BackgroundScheduler()
        #expect(sched.stopped)  // true

        let timer = sched.task("timer") { (interval: Duration) in
            while !sched.stopped {
                print(Date.now)
                sched.sleep(for: interval)  // wakes at shutdown instead of finishing the interval
            }
        }
        let id = try timer.start(.seconds(3))
        sched.shutdown(wait: true)  // returns promptly
        #expect(sched.futures[id]?.state == .finished)
    }

    @Test("the decorator form starts functions by their own arguments")
    func decorator() throws {
        let sched = BackgroundScheduler()
        let now = sched.task("now") { (cost: Double) in
            Thread.sleep(forTimeInterval: cost)
            return "\(Date.now)"
        }
        let id = try now.start(0.01)  // now.start(cost=1)
        sched.shutdown(wait: true)
        #expect(sched.tasks[id]?.name == "now")
        #expect(sched.futures[id]?.state == .finished)
    }
}
