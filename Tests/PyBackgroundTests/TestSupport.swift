@testable import PyBackground
import Synchronization

/// A gate tasks block on until the test opens it: keeps tasks running or pending on demand
/// without sleeping.
final class Gate: Sendable {
    private let lock = ConditionLock()
    private let isOpen = Atomic<Bool>(false)

    func open() {
        lock.withLock {
            isOpen.store(true, ordering: .releasing)
            lock.broadcast()
        }
    }

    func wait() {
        lock.withLock { while !isOpen.load(ordering: .acquiring) { lock.wait() } }
    }
}

/// Counts arrivals and lets a test wait until a number is reached.
final class Counter: Sendable {
    private let lock = ConditionLock()
    private let value = Atomic<Int>(0)

    var count: Int { value.load(ordering: .acquiring) }

    func increment() {
        lock.withLock {
            value.add(1, ordering: .sequentiallyConsistent)
            lock.broadcast()
        }
    }

    /// Waits until the count reaches `target`; false if that took longer than `timeout`.
    func wait(until target: Int, timeout: Duration = .seconds(30)) -> Bool {
        let deadline = MonotonicInstant.after(timeout)
        return lock.withLock {
            while value.load(ordering: .acquiring) < target {
                if !lock.wait(until: deadline) { return value.load(ordering: .acquiring) >= target }
            }
            return true
        }
    }
}

/// An ordered log tasks append to.
final class Log<Element: Sendable>: Sendable {
    private let entries = Mutex<[Element]>([])
    func append(_ element: Element) { entries.withLock { $0.append(element) } }
    var all: [Element] { entries.withLock { $0 } }
}

struct Failure: Error, Equatable {
    let reason: String
}

/// Starts `fn` and returns its future. (Not `scheduler.futures[try scheduler.start(…)]`: that
/// takes the view before the start, and a view never holds tasks started after it.)
func startFuture<Value: Sendable>(_ scheduler: Scheduler, _ fn: @escaping @Sendable () throws -> Value) throws -> Future {
    let id = try scheduler.start(fn)
    return scheduler.futures[id]!
}
