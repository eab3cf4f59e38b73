import PyBackground
import Synchronization

/// A count shared between threads that a test can wait on: arrivals of tasks, bytes a writer sent.
public final class Counter: Sendable {
    private let lock = ConditionLock()
    private let value = Atomic<Int>(0)

    public init() {}

    /// The count now.
    public var count: Int { value.load(ordering: .acquiring) }

    /// Adds one and wakes the waiters.
    public func increment() { add(1) }

    /// Adds `amount` and wakes the waiters.
    public func add(_ amount: Int) {
        lock.withLock {
            value.add(amount, ordering: .sequentiallyConsistent)
            lock.broadcast()
        }
    }

    /// Waits until the count reaches `target`; false if that took longer than `timeout`.
    public func wait(until target: Int, timeout: Duration = .seconds(30)) -> Bool {
        let deadline = MonotonicInstant.after(timeout)
        return lock.withLock {
            while value.load(ordering: .acquiring) < target {
                if !lock.wait(until: deadline) { return value.load(ordering: .acquiring) >= target }
            }
            return true
        }
    }
}
