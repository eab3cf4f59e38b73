#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One thread that runs actions at times of day: every schedule of a scheduler shares it, so
/// waiting holds no worker and no thread per schedule. Actions run on this thread and must be
/// short (they start tasks; the tasks run on the workers).
final class TimerQueue: @unchecked Sendable {
    private struct Entry {
        let due: Date
        let token: Int
        let action: @Sendable () -> Void
    }

    private let clock: any SchedulerClock
    // Guarded by `lock`.
    private let lock = ConditionLock()
    /// A binary min-heap on (due, token): token order keeps equal times first-come, first-served.
    private var heap: [Entry] = []
    /// Tokens scheduled and neither run nor cancelled: an entry whose token is gone is dropped.
    private var live = Set<Int>()
    private var nextToken = 0
    private var started = false
    private var closed = false

    init(clock: any SchedulerClock) {
        self.clock = clock
        clock.onChange { [weak self] in self?.poke() }
    }

    /// Runs `action` on the timer thread once the clock reaches `due`; returns a token for
    /// ``cancel(_:)``. Nothing runs after ``close()``.
    @discardableResult
    func schedule(at due: Date, _ action: @escaping @Sendable () -> Void) -> Int {
        lock.lock()
        defer { lock.unlock() }
        nextToken += 1
        guard !closed else { return nextToken }
        push(Entry(due: due, token: nextToken, action: action))
        live.insert(nextToken)
        if !started {
            started = true
            DetachedThread.start { self.run() }
        }
        lock.signal()
        return nextToken
    }

    /// Drops a scheduled action that has not run yet (a token that ran or was dropped: nothing).
    func cancel(_ token: Int) {
        lock.withLock { _ = live.remove(token) }
    }

    /// Stops the thread; scheduled actions are dropped.
    func close() {
        lock.withLock {
            closed = true
            heap.removeAll()
            live.removeAll()
            lock.broadcast()
        }
    }

    /// Closed: nothing scheduled from now on runs.
    var isClosed: Bool { lock.withLock { closed } }

    /// Entries waiting (cancelled ones not yet dropped included).
    var count: Int { lock.withLock { heap.count } }

    private func poke() {
        lock.withLock { lock.broadcast() }
    }

    private func run() {
        lock.lock()
        while !closed {
            guard let first = heap.first else {
                lock.wait()
                continue
            }
            guard live.contains(first.token) else {
                _ = pop()
                continue
            }
            if first.due <= clock.now {
                _ = pop()
                live.remove(first.token)
                lock.unlock()
                first.action()
                lock.lock()
                continue
            }
            if let bound = clock.longestWait(until: first.due) {
                _ = lock.wait(until: MonotonicInstant.after(bound))
            } else {
                lock.wait()
            }
        }
        lock.unlock()
    }

    // MARK: - Heap

    private static func precedes(_ a: Entry, _ b: Entry) -> Bool {
        a.due < b.due || (a.due == b.due && a.token < b.token)
    }

    private func push(_ entry: Entry) {
        heap.append(entry)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.precedes(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private func pop() -> Entry? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count && Self.precedes(heap[left], heap[smallest]) { smallest = left }
            if right < heap.count && Self.precedes(heap[right], heap[smallest]) { smallest = right }
            guard smallest != parent else { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}
