import Synchronization

/// Wakes a loop that sleeps until there is work: a signal given while it works is kept (one),
/// many signals wake it once, and ``finish()`` wakes it for good.
final class AsyncWake: Sendable {
    private struct State {
        var signalled = false
        var finished = false
        var waiter: CheckedContinuation<Void, Never>?
        var generation = 0
    }

    private let state = Mutex(State())

    init() {}

    func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.signalled = true
            return nil
        }
        waiter?.resume()
    }

    /// Every wait from now on returns at once.
    func finish() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    var isFinished: Bool { state.withLock { $0.finished } }

    /// Returns at the next signal (or at once if one came since the last wait), after `timeout`
    /// at the latest (nil: no limit), or once finished. One waiter at a time.
    func wait(timeout: Duration? = nil) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let generation = state.withLock { state -> Int? in
                if state.signalled || state.finished {
                    state.signalled = false
                    return nil
                }
                state.waiter = continuation
                state.generation += 1
                return state.generation
            }
            guard let generation else { return continuation.resume() }
            guard let timeout else { return }
            Task { [self] in
                try? await Task.sleep(for: timeout)
                let waiter = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
                    guard state.generation == generation, let waiter = state.waiter else { return nil }
                    state.waiter = nil
                    return waiter
                }
                waiter?.resume()
            }
        }
    }
}
