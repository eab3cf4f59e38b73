import Foundation
import NIOCore
import Testing

@testable import PyBackgroundDaemon

@Suite("The queue of one event reader's lines")
struct EventLineQueueTests {
    static func push(_ queue: EventLineQueue, _ line: String) -> EventLineQueue.Push {
        queue.push(maximumBytes: line.utf8.count) { bytes in
            bytes.copyBytes(from: Array(line.utf8))
            return line.utf8.count
        }
    }

    @Test("lines come out oldest first in one buffer; only the first push after a take wakes")
    func order() {
        let queue = EventLineQueue(capacity: 10)
        #expect(Self.push(queue, "a\n") == .done(wake: true))
        #expect(Self.push(queue, "b\n") == .done(wake: false))
        #expect(Self.push(queue, "c\n") == .done(wake: false))
        let (lines, missed) = queue.take(stopIfMissed: false)
        #expect(String(buffer: lines) == "a\nb\nc\n" && missed == 0)
        #expect(Self.push(queue, "d\n") == .done(wake: true))
        queue.holdWakes()
        let empty = EventLineQueue(capacity: 1)
        empty.holdWakes()
        #expect(Self.push(empty, "x") == .done(wake: false))
    }

    @Test("past capacity lines are dropped and counted; with stopIfMissed the take stops the queue")
    func capacity() {
        for stop in [false, true] {
            let queue = EventLineQueue(capacity: 2)
            for line in ["1", "2", "3", "4"] { _ = Self.push(queue, line) }
            let (lines, missed) = queue.take(stopIfMissed: stop)
            #expect(String(buffer: lines) == "12" && missed == 2)
            #expect(queue.isStopped == stop)
            #expect(Self.push(queue, "5") == (stop ? .stopped : .done(wake: true)))
        }
    }

    @Test("a stopped queue drops what waits and takes nothing more")
    func stop() {
        let queue = EventLineQueue(capacity: 5)
        _ = Self.push(queue, "a")
        #expect(queue.stop() == false)
        #expect(queue.stop() == true)
        #expect(Self.push(queue, "b") == .stopped)
        #expect(queue.take(stopIfMissed: false).lines.readableBytes == 0)
    }

    @Test("four threads pushing, one taking only when woken: every line once, each thread's in its order, no wake lost")
    func concurrent() {
        let queue = EventLineQueue(capacity: 1_000_000)
        let perThread = 50_000
        let woken = DispatchSemaphore(value: 0)
        let threads = (0..<4).map { thread in
            Thread {
                for index in 0..<perThread where Self.push(queue, "\(thread) \(index)\n") == .done(wake: true) {
                    woken.signal()
                }
            }
        }
        for thread in threads { thread.start() }
        var next = [Int](repeating: 0, count: 4)
        var taken = 0
        while taken < 4 * perThread {
            // A lost wake leaves lines waiting with no one to take them: this times out.
            guard woken.wait(timeout: .now() + 10) == .success else {
                Issue.record("no wake for the lines after \(taken)")
                return
            }
            let (lines, missed) = queue.take(stopIfMissed: false)
            #expect(missed == 0)
            for line in String(buffer: lines).split(separator: "\n") {
                let parts = line.split(separator: " ").map { Int($0)! }
                #expect(parts[1] == next[parts[0]])
                next[parts[0]] = parts[1] + 1
                taken += 1
            }
        }
        #expect(taken == 4 * perThread)
        #expect(next == [perThread, perThread, perThread, perThread])
    }
}
