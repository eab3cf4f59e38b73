import PyBackground
import Synchronization

/// A gate that tasks block on until the test opens it: keeps tasks running, or queued behind
/// them, for as long as a test needs, without sleeping.
public final class Gate: Sendable {
    private let lock = ConditionLock()
    private let isOpen = Atomic<Bool>(false)

    public init() {}

    /// Lets every waiting and future caller of ``wait()`` through.
    public func open() {
        lock.withLock {
            isOpen.store(true, ordering: .releasing)
            lock.broadcast()
        }
    }

    /// Blocks until the gate is open.
    public func wait() {
        lock.withLock { while !isOpen.load(ordering: .acquiring) { lock.wait() } }
    }
}
