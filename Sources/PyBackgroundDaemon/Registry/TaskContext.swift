import Dispatch
import Logging
import PyBackground
import PyBackgroundProtocol
import Synchronization

/// What a running registered task may ask of the daemon: whether it is stopping, a sleep that
/// wakes when it must, and a way to be told when it is cancelled.
///
/// A daemon's shutdown first *stops* (no new tasks; cooperative loops such as `timer` end), then,
/// once its timeout has passed, *cancels* the tasks still running: their sleeps wake at once and
/// their cancel handlers run (a command task kills its process there). A `KILL` of this task, or
/// its timeout, cancels it the same way, alone (``stopRequest`` says which).
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
    /// The task's own future (nil only for a body run outside a worker, as some tests do).
    let future: Future?
    /// Where the task's stdout and stderr are kept (nil: nowhere, as in some tests).
    let outputs: TaskOutputs?

    init(id: TaskID, logger: Logger, scheduler: Scheduler, cancellation: TaskCancellation, outputs: TaskOutputs? = nil) {
        self.id = id
        self.logger = logger
        self.scheduler = scheduler
        self.cancellation = cancellation
        self.future = Future.current
        self.outputs = outputs
    }

    /// Adds to the task's output, as a command's process writes to its stdout or stderr: `pybgctl
    /// log` and `follow` show it, followers see it at once, and it is kept up to `output.max_bytes`
    /// per stream as a command's is.
    public func write(_ bytes: some Collection<UInt8>, to stream: StandardStream = .stdout) {
        outputs?.append(bytes, id: id, stream: stream)
    }

    /// Adds a line of text to the task's output (a line feed is added).
    public func print(_ text: String, to stream: StandardStream = .stdout) {
        write(Array((text + "\n").utf8), to: stream)
    }

    /// True once the daemon began shutting down: loops should end.
    public var isStopping: Bool { scheduler.stopped }

    /// True once the daemon gave up waiting for running tasks at shutdown, or this task was asked
    /// to stop (KILL, its timeout).
    public var isCancelled: Bool { cancellation.isCancelled || stopRequest != nil }

    /// Why this task was asked to stop, if it was: a KILL (and by whom) or its timeout.
    public var stopRequest: StopRequest? { future?.stopRequest }

    /// The failure a task asked to stop ends with: `killed` or `timed-out` with the request's
    /// message, or `cancelled-at-shutdown`; `detail` is kept with it (a command's output).
    public func stopFailure(detail: JSONValue? = nil) -> TaskFailure? {
        if let stop = stopRequest {
            return TaskFailure(TaskFailure.Code(stop.error.code.rawValue), stop.error.message, detail: detail)
        }
        if cancellation.isCancelled {
            return TaskFailure(.cancelledAtShutdown, "stopped: the daemon's shutdown timeout ran out", detail: detail)
        }
        return nil
    }

    /// Sleeps `seconds`. Throws `cancelled-at-shutdown`, `killed` or `timed-out` if cancelled
    /// first; with `wakingOnStop`, also returns early (returning false) when the daemon starts to
    /// stop. Returns true when it slept the whole time.
    @discardableResult
    public func sleep(seconds: Double, wakingOnStop: Bool = false) throws(TaskFailure) -> Bool {
        guard seconds > 0 else { return true }
        let slept: Bool
        if wakingOnStop {
            // The scheduler's sleep wakes at stop and at this task's stop request; cancellation
            // always comes after the stop.
            slept = scheduler.sleep(for: .nanoseconds(Int64(min(seconds, 1e9) * 1e9)))
        } else {
            // Woken by the shutdown's cancellation or by this task's stop request, whichever first.
            let wake = DispatchSemaphore(value: 0)
            let registration = onCancel { wake.signal() }
            defer { removeCancelHandler(registration) }
            slept = wake.wait(timeout: .now() + .nanoseconds(Int(min(seconds, 1e9) * 1e9))) == .timedOut && !isCancelled
        }
        if let failure = stopFailure() { throw failure }
        return slept
    }

    /// Runs `handler` when the task is cancelled (at once if it already is) until the returned
    /// registration is dropped by `removeCancelHandler`.
    public func onCancel(_ handler: @escaping @Sendable () -> Void) -> CancelRegistration {
        let stopToken = future?.onStopRequest(handler)
        return CancelRegistration(shutdown: cancellation.addHandler(handler), stop: stopToken)
    }

    /// Drops a handler added by ``onCancel(_:)`` once it is no longer needed.
    public func removeCancelHandler(_ registration: CancelRegistration) {
        cancellation.removeHandler(registration.shutdown)
        if let stop = registration.stop { future?.removeStopHandler(stop) }
    }

    /// A handler registered by ``onCancel(_:)``: for the shutdown's cancellation and for this
    /// task's stop request.
    public struct CancelRegistration: Sendable {
        let shutdown: Int
        let stop: Int?
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
