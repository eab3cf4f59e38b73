import Foundation

/// The bare floor the scheduler is compared with: a pool with nothing but a queue of closures,
/// one mutex and one condition, and the same number of threads. No ids, tables or futures.
final class MinimalThreadPool: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [(@Sendable () -> Void)?] = []
    private var head = 0
    private var closed = false
    private var active = 0
    private var threads: [Thread] = []

    init(threads count: Int) {
        for _ in 0..<count {
            let thread = Thread { [self] in work() }
            threads.append(thread)
            thread.start()
        }
    }

    func submit(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        queue.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Waits for the queue to drain and the threads to finish.
    func shutdown() {
        condition.lock()
        closed = true
        condition.broadcast()
        while head < queue.count || active > 0 { condition.wait() }
        condition.unlock()
    }

    private func work() {
        condition.lock()
        while true {
            while head == queue.count && !closed { condition.wait() }
            if head == queue.count { break }
            let job = queue[head]!
            queue[head] = nil
            head += 1
            active += 1
            condition.unlock()
            job()
            condition.lock()
            active -= 1
            if closed { condition.broadcast() }
        }
        condition.unlock()
    }
}
