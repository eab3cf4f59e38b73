import NIOCore
import Synchronization

/// The encoded lines waiting for one event reader, pushed by any thread and taken all at once
/// by the reader's event loop; at most `capacity` of them, the rest dropped and counted.
///
/// A line is encoded outside the lock, on the pusher's stack; the lock is held only to copy it
/// into the one buffer that waits, so that no push allocates. The lock spins for as long as such
/// a copy takes before it sleeps (``SpinningLock``). The event loop and both workers publish an
/// event per step of every task: on a `Mutex` (a priority-inheritance futex on Linux, which
/// never spins) they queued in the kernel for most events; a lock-free list, one node per line,
/// cost three allocations per task, freed on another thread, and measured slower than this
/// (BENCHMARKS.md, issue 18).
final class EventLineQueue: Sendable {
    /// What a push did.
    enum Push: Equatable {
        /// Queued or dropped (and counted); `wake` when the reader must be woken to take it.
        case done(wake: Bool)
        /// The queue is stopped: nothing was made.
        case stopped
    }

    let capacity: Int
    private let state = SpinningLock(State())
    // Read without the lock, to skip encoding what would be dropped or refused.
    private let waiting = Atomic<Int>(0)
    private let missed = Atomic<Int>(0)
    private let stoppedFlag = Atomic<Bool>(false)

    private struct State {
        var bytes = ByteBufferAllocator().buffer(capacity: 0)
        var lines = 0
        /// A wake is on its way, or the reader will take without one (its channel is full).
        var wakeScheduled = false
        var stopped = false

        /// Whether this push must wake the reader.
        mutating func wakeRequest() -> Push {
            if stopped { return .stopped }
            defer { wakeScheduled = true }
            return .done(wake: !wakeScheduled)
        }
    }

    init(capacity: Int) {
        self.capacity = capacity
    }

    var isStopped: Bool { stoppedFlag.load(ordering: .acquiring) }

    /// Encodes a line of at most `maximumBytes` with `encode` (which returns the bytes it wrote)
    /// and queues it, unless `capacity` lines wait: then it is dropped and counted.
    func push(maximumBytes: Int, _ encode: (UnsafeMutableRawBufferPointer) -> Int) -> Push {
        guard !isStopped else { return .stopped }
        if waiting.load(ordering: .relaxed) >= capacity {
            missed.wrappingAdd(1, ordering: .relaxed)
            return state.withLock { $0.wakeRequest() }
        }
        return withUnsafeTemporaryAllocation(byteCount: maximumBytes, alignment: 1) { scratch in
            let count = encode(scratch)
            return state.withLock { state in
                guard !state.stopped else { return .stopped }
                if state.lines >= capacity {
                    missed.wrappingAdd(1, ordering: .relaxed)
                } else {
                    state.bytes.writeBytes(UnsafeRawBufferPointer(rebasing: scratch[..<count]))
                    state.lines += 1
                    waiting.store(state.lines, ordering: .relaxed)
                }
                return state.wakeRequest()
            }
        }
    }

    /// The reader will take without a wake (its channel is full; becoming writable takes).
    func holdWakes() { state.withLock { $0.wakeScheduled = true } }

    /// Every line waiting, oldest first, in one buffer, and how many were dropped since the last
    /// take. Pushes from here on wake the reader again. With `stopIfMissed`, a take that finds
    /// drops also stops the queue.
    func take(stopIfMissed: Bool) -> (lines: ByteBuffer, missed: Int) {
        state.withLock { state in
            let taken = state.bytes
            // The next pushes write into a buffer of their own: the one taken goes to the channel.
            state.bytes = ByteBufferAllocator().buffer(capacity: taken.readableBytes)
            state.lines = 0
            waiting.store(0, ordering: .relaxed)
            state.wakeScheduled = false
            let missed = missed.exchange(0, ordering: .relaxed)
            if missed > 0 && stopIfMissed { stop(&state) }
            return (taken, missed)
        }
    }

    /// Stops the queue and drops what waits; returns whether it was already stopped.
    func stop() -> Bool {
        state.withLock { state in
            let was = state.stopped
            stop(&state)
            return was
        }
    }

    private func stop(_ state: inout State) {
        state.stopped = true
        stoppedFlag.store(true, ordering: .releasing)
        state.bytes = ByteBufferAllocator().buffer(capacity: 0)
        state.lines = 0
    }
}
