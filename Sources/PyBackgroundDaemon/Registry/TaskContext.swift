import Dispatch
import Logging
import PyBackground
import Synchronization

/// What a running registered task may ask of the daemon: whether it is stopping, a sleep that
/// wakes when it must, and a way to be told when it is cancelled.
///
/// A daemon's shutdown first *stops* (no new tasks; cooperative loops such as `timer` end), then,
/// once its timeout has passed, *cancels* the tasks still running: their sleeps wake at once and
/// their cancel handlers run (a command task kills its process there).
///
/// ```swift
/// RegisteredTask(name: "poll", parameters: [...]) { context, arguments in
///     while !context.isStopping {
///         try poll()
///         try context.sleep(seconds: 5, wakingOnStop: true)
///     }
///     return .null
/// }
/// ```
public struct TaskContext: Sendable {
    /// The task's id.
    public let id: TaskID
    /// The daemon's logger.
    public let logger: Logger
    let scheduler: Scheduler
    let cancellation: TaskCancellation

    /// True once the daemon began shutting down: loops should end.
    public var isStopping: Bool { scheduler.stopped }

    /// True once the daemon gave up waiting for running tasks at shutdown.
    public var isCancelled: Bool { cancellation.isCancelled }

    /// Sleeps `seconds`. Throws `cancelled-at-shutdown` if cancelled first; with `wakingOnStop`,
    /// also returns early (returning false) when the daemon starts to stop.
    /// Returns true when it slept the whole time.
    @discardableResult
    public func sleep(seconds: Double, wakingOnStop: Bool = false) throws(TaskFailure) -> Bool {
        guard seconds > 0 else { return true }
        let slept: Bool
        if wakingOnStop {
            // The scheduler's sleep wakes at stop; cancellation always comes after the stop.
            slept = scheduler.sleep(for: .nanoseconds(Int64(min(seconds, 1e9) * 1e9)))
        } else {
            slept = cancellation.sleep(seconds: seconds)
        }
        if cancellation.isCancelled {
            throw TaskFailure(.cancelledAtShutdown, "stopped: the daemon's shutdown timeout ran out")
        }
        return slept
    }

    /// Runs `handler` when the task is cancelled (at once if it already is) until the returned
    /// registration is dropped by `removeCancelHandler`.
    public func onCancel(_ handler: @escaping @Sendable () -> Void) -> Int {
        cancellation.addHandler(handler)
    }

    /// Drops a handler added by ``onCancel(_:)`` once it is no longer needed.
    public func removeCancelHandler(_ token: Int) {
        cancellation.removeHandler(token)
    }
}

/// The daemon-wide cancellation of running tasks at the end of the shutdown timeout.
final class TaskCancellation: Sendable {
    private let cancelled = Atomic<Bool>(false)
    private let handlers = Mutex<(next: Int, byToken: [Int: @Sendable () -> Void])>((0, [:]))

    var isCancelled: Bool { cancelled.load(ordering: .acquiring) }

    /// Cancels every running task: sleeps wake, handlers run. Idempotent.
    func cancelAll() {
        let pending = handlers.withLock { state in
            cancelled.store(true, ordering: .releasing)
            defer { state.byToken = [:] }
            return Array(state.byToken.values)
        }
        for handler in pending { handler() }
    }

    /// Sleeps up to `seconds`; false if woken by cancellation.
    func sleep(seconds: Double) -> Bool {
        let wake = DispatchSemaphore(value: 0)
        let token = addHandler { wake.signal() }
        defer { removeHandler(token) }
        let nanoseconds = Int(min(seconds, 1e9) * 1e9)
        return wake.wait(timeout: .now() + .nanoseconds(nanoseconds)) == .timedOut && !isCancelled
    }

    /// Registers `handler` for cancellation; runs it at once (returning 0) if already cancelled.
    func addHandler(_ handler: @escaping @Sendable () -> Void) -> Int {
        let token: Int? = handlers.withLock { state in
            if cancelled.load(ordering: .acquiring) { return nil }
            state.next += 1
            state.byToken[state.next] = handler
            return state.next
        }
        guard let token else {
            handler()
            return 0
        }
        return token
    }

    func removeHandler(_ token: Int) {
        _ = handlers.withLock { $0.byToken.removeValue(forKey: token) }
    }
}
