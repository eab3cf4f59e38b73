import Synchronization

/// A flag that one caller claims, once: two racing callbacks (a task's end and a WAIT's
/// timer) may each try to answer, and only the first may complete the promise.
final class OnceFlag: Sendable {
    private let claimed = Atomic<Bool>(false)

    /// True for the first caller only.
    func claim() -> Bool {
        !claimed.exchange(true, ordering: .acquiringAndReleasing)
    }
}
