import Synchronization

/// The task and future tables behind a scheduler: every future by id, in submission order,
/// and the optional bound on how many ended tasks are kept.
///
/// Views (``SchedulerTable``) read through to this store instead of copying it, which is what
/// lets `scheduler.futures[id]` stay O(1) however long the history grows.
final class TaskStore: Sendable {
    let keepFinished: Int?
    private let state = Mutex(State())
    /// The one source of task ids, under a lock of its own: a host drawing an id before it records
    /// the task does not contend with the workers ending tasks.
    private let random = Mutex(BufferedSystemRandom())
    /// Futures cancelled before they ran (workers count the rest, under the pool's lock).
    let cancelledCount = Atomic<Int>(0)
    /// Futures waiting for their time (``FutureState/scheduled``).
    let scheduledCount = Atomic<Int>(0)
    /// Futures waiting for their next attempt (``FutureState/retrying``).
    let retryingCount = Atomic<Int>(0)
    /// Futures waiting for the tasks they run after (``FutureState/waiting``).
    let waitingCount = Atomic<Int>(0)

    private struct Slot {
        let sequence: Int
        var future: Future?
    }

    private struct State {
        /// Every live future by id, up to the newest `unindexed` slots of `order`: read it only
        /// after ``indexAll()``.
        var byID: [TaskID: Future] = [:]
        /// Futures that ``TaskStore/insert(_:)`` appended to `order` and not yet to `byID`, the
        /// newest slots. A hash insert under a random id missed the cache at every task once the
        /// tables held 100,000 (about 150 ns of `start`'s 600: issue 20); appended in one pass
        /// when something first looks a task up, they cost the same in all, paid only if needed.
        var unindexed = 0
        /// Every live future by ascending sequence, from `head` on; removed ones leave nil holes
        /// until compaction. Slots before `head` are dead: dropping them is deferred so that
        /// retention costs O(1) per ended task, not a shift of the whole array.
        var order: [Slot] = []
        var head = 0
        var holes = 0
        var nextSequence = 0
        var latest: TaskID?
        /// Insertions taken back because the pool refused them: they were never accepted.
        var withdrawn = 0
        /// Ended futures in the order they ended, oldest first; kept only with a retention bound.
        var ended = FIFOQueue<Future>()
        /// Ended futures brought back by ``restore(_:)``, by state: no worker counted them.
        var restored: [FutureState: Int] = [:]

        /// Brings `byID` up to date with `order`.
        mutating func indexAll() {
            guard unindexed > 0 else { return }
            byID.reserveCapacity(byID.count + unindexed)
            for slot in order[(order.endIndex - unindexed)...] {
                if let future = slot.future { byID[future.id] = future }
            }
            unindexed = 0
        }
    }

    /// Told of every start and end (the host's events and metrics); nil for most schedulers.
    let observer: (any TaskObserver)?

    /// Ended futures the workers handed over (``futuresEnded(_:)``), not yet counted against the
    /// retention bound: whoever next takes the tables' lock counts them (``withTables(_:)``).
    private let handedOver = Mutex<[Future]>([])
    /// How many `handedOver` holds, for a look without its lock.
    private let handedOverCount = Atomic<Int>(0)
    /// Past this many handed over (nobody took the tables' lock meanwhile), the worker handing
    /// over counts them itself.
    static let handedOverBound = 4096

    init(keepFinished: Int?, observer: (any TaskObserver)? = nil) {
        precondition(keepFinished.map { $0 >= 0 } ?? true, "keepFinished must not be negative")
        self.keepFinished = keepFinished
        self.observer = observer
    }

    /// A fresh random task id.
    func newID() -> TaskID {
        random.withLock { TaskID.random(using: &$0) }
    }

    /// Adds a new pending future, under a fresh random id, and makes it the latest.
    func insert(_ makeFuture: (_ id: TaskID, _ sequence: Int) -> Future) -> Future {
        let id = newID()
        return withTables { state in
            append(makeFuture(id, state.nextSequence), to: &state, indexing: false)
        }
    }

    /// Adds new pending futures under ids chosen beforehand, in order, under one lock; an entry
    /// whose id the tables already hold is nil, and nothing is added for it.
    func insert(ids: [TaskID], _ makeFuture: (_ index: Int, _ sequence: Int) -> Future) -> [Future?] {
        withTables { state in
            state.indexAll()
            var futures: [Future?] = []
            futures.reserveCapacity(ids.count)
            for index in ids.indices {
                if state.byID[ids[index]] == nil {
                    futures.append(append(makeFuture(index, state.nextSequence), to: &state))
                } else {
                    futures.append(nil)
                }
            }
            return futures
        }
    }

    /// Adds a new pending future under an id chosen beforehand; nil, adding nothing, if the
    /// tables already hold that id.
    func insert(id: TaskID, _ makeFuture: (_ sequence: Int) -> Future) -> Future? {
        withTables { state in
            state.indexAll()
            guard state.byID[id] == nil else { return nil }
            return append(makeFuture(state.nextSequence), to: &state)
        }
    }

    /// Adds an ended future from an earlier life of the tables, as the latest, under the
    /// retention bound; nil, adding nothing, if the tables already hold its id.
    func restore(id: TaskID, _ makeFuture: (_ sequence: Int) -> Future) -> Future? {
        let (future, dropped) = withTables { state -> (Future?, [Future]) in
            state.indexAll()
            guard state.byID[id] == nil else { return (nil, []) }
            let future = append(makeFuture(state.nextSequence), to: &state)
            state.restored[future.state, default: 0] += 1
            var dropped: [Future] = []
            retain(ended: future, in: &state, dropping: &dropped)
            return (future, dropped)
        }
        // Freed after the unlock, as everywhere: a task's arguments may use the tables as they go.
        withExtendedLifetime(dropped) {}
        return future
    }

    /// Sets the latest id to a task no longer in the tables (see ``Scheduler/restoreLatestID(_:)``).
    func restoreLatest(_ id: TaskID) {
        state.withLock { $0.latest = id }
    }

    /// Makes `future` the newest entry and the latest; the caller holds the lock. Without
    /// `indexing`, its id waits for ``State/indexAll()``; with it, the caller has indexed all.
    private func append(_ future: Future, to state: inout State, indexing: Bool = true) -> Future {
        state.nextSequence += 1
        if indexing {
            precondition(state.unindexed == 0, "a future indexed at once would sit among unindexed ones")
            state.byID[future.id] = future
        } else {
            state.unindexed += 1
        }
        state.order.append(Slot(sequence: future.sequence, future: future))
        state.latest = future.id
        return future
    }

    /// Counts an ended future against the retention bound, dropping the oldest past it. The
    /// dropped ones are added to `dropped`, for the caller to release once it has unlocked.
    private func retain(ended future: Future, in state: inout State, dropping dropped: inout [Future]) {
        guard let keepFinished else { return }
        state.ended.push(future)
        while state.ended.count > keepFinished, let oldest = state.ended.pop() {
            remove(oldest, from: &state)
            dropped.append(oldest)
        }
    }

    /// Counts of restored futures per final state.
    var restoredCounts: [FutureState: Int] { state.withLock { $0.restored } }

    /// Removes the ended futures for which `shouldRemove` holds (pending and running ones stay);
    /// returns their ids, oldest first. O(tables).
    func removeEnded(where shouldRemove: (TaskID, Future.Snapshot) -> Bool) -> [TaskID] {
        let removed = withTables { state -> [Future] in
            var removed: [Future] = []
            for slot in state.order[state.head...] {
                guard let future = slot.future else { continue }
                let snapshot = future.snapshot
                if snapshot.state.isDone && shouldRemove(future.id, snapshot) { removed.append(future) }
            }
            guard !removed.isEmpty else { return [] }
            let ids = Set(removed.map(\.id))
            for future in removed { remove(future, from: &state) }
            if keepFinished != nil { state.ended.removeAll { ids.contains($0.id) } }
            return removed
        }
        // Freed after the unlock: a task's arguments may use the tables as they go.
        return removed.map(\.id)
    }

    /// Takes back a future that was never queued (the pool refused it); if it was the latest,
    /// the newest remaining one is latest again.
    func withdraw(_ future: Future) {
        withTables { state in
            remove(future, from: &state)
            state.withdrawn += 1
            if state.latest == future.id {
                state.latest = state.order[state.head...].last { $0.future != nil }?.future?.id
            }
        }
    }

    var latest: TaskID? { state.withLock { $0.latest } }

    /// The sequence number the next insertion will get: a view bound that includes everything so far.
    var nextSequence: Int { state.withLock { $0.nextSequence } }

    /// Tasks accepted so far, including any no longer retained.
    var acceptedCount: Int { state.withLock { $0.nextSequence - $0.withdrawn } }

    func future(_ id: TaskID, before bound: Int) -> Future? {
        withTables { state in
            state.indexAll()
            guard let future = state.byID[id], future.sequence < bound else { return nil }
            return future
        }
    }

    func count(before bound: Int) -> Int {
        withTables { state in
            state.indexAll()
            var newer = 0
            for slot in state.order[state.head...].reversed() {
                guard slot.sequence >= bound else { break }
                if slot.future != nil { newer += 1 }
            }
            return state.byID.count - newer
        }
    }

    /// The futures submitted before `bound`, oldest first; at most the `limit` newest of them.
    func futures(before bound: Int, limit: Int = .max) -> [Future] {
        withTables { state in
            var end = state.order.endIndex
            while end > state.head && state.order[end - 1].sequence >= bound { end -= 1 }
            var result: [Future] = []
            var index = end
            while index > state.head && result.count < limit {
                index -= 1
                if let future = state.order[index].future { result.append(future) }
            }
            return result.reversed()
        }
    }

    // MARK: - Ends

    func futureWasCancelled(_ future: Future) {
        cancelledCount.add(1, ordering: .relaxed)
        futuresEnded([future])
    }

    /// Takes ended tasks to count against the retention bound, in the order they ended: the pool
    /// hands over the tasks its workers ended in batches, and the next use of the tables counts
    /// them (and releases their bodies; see ``Future/releaseBody()``).
    func futuresEnded(_ futures: [Future]) {
        guard keepFinished != nil, !futures.isEmpty else { return }
        // Only handed over here, under a lock of its own: the thread that next takes the tables'
        // lock, in a steady stream the one inserting, counts them. Counted by the worker under
        // the tables' lock, each batch (dictionary removals that miss the cache) held up the
        // event loop's insertions behind it, 7% of its time in the lock's slow path, and the
        // dropped tasks' memory went back across threads to the event loop's malloc arena
        // (perf of the event loop under pipelined SUBMIT: issue 20).
        let full = handedOver.withLock { handed in
            handed.append(contentsOf: futures)
            handedOverCount.store(handed.count, ordering: .releasing)
            return handed.count >= Self.handedOverBound
        }
        if full { applyHandedOver() }
    }

    /// Counts the ended futures handed over so far against the retention bound (any use of the
    /// tables does it first).
    func applyHandedOver() {
        withTables { _ in }
    }

    /// `body` on the tables under their lock, once the ended futures handed over so far are
    /// counted against the retention bound; those it drops are freed after the unlock (freed
    /// under it, a task's record, arguments and outcome kept the inserting thread waiting).
    private func withTables<Result>(_ body: (inout sending State) -> sending Result) -> sending Result {
        var handed: [Future] = []
        var dropped: [Future] = []
        let result = state.withLock { state in
            if keepFinished != nil && handedOverCount.load(ordering: .acquiring) > 0 {
                handed = handedOver.withLock { handed in
                    defer {
                        handed = []
                        handedOverCount.store(0, ordering: .relaxed)
                    }
                    return handed
                }
                for future in handed { retain(ended: future, in: &state, dropping: &dropped) }
            }
            return body(&state)
        }
        // After the unlock: what a closure captured may, as it goes, call back into the tables.
        for future in handed { future.releaseBody() }
        withExtendedLifetime(dropped) {}
        return result
    }

    // MARK: - Removal

    private func remove(_ future: Future, from state: inout State) {
        state.indexAll()
        guard state.byID.removeValue(forKey: future.id) != nil else { return }
        guard let index = slotIndex(of: future.sequence, in: state.order, from: state.head) else { return }
        state.order[index].future = nil
        state.holes += 1
        while state.head < state.order.count && state.order[state.head].future == nil {
            state.head += 1
            state.holes -= 1
        }
        if state.head == state.order.count {
            state.order.removeAll(keepingCapacity: true)
            state.head = 0
        } else if state.head > 1024 && state.head * 2 > state.order.count {
            state.order.removeFirst(state.head)
            state.head = 0
        }
        // Holes behind a long-running task would otherwise pile up for as long as it runs.
        if state.holes > 1024 && state.holes > state.byID.count {
            state.order.removeSubrange(..<state.head)
            state.head = 0
            state.order.removeAll { $0.future == nil }
            state.holes = 0
        }
    }

    private func slotIndex(of sequence: Int, in order: [Slot], from head: Int) -> Int? {
        // The retention bound drops the oldest ended task, which in a steady stream is the oldest
        // entry: found without a search, for the binary search's cache misses over a large table
        // were time a worker held the lock the event loop's inserts wait on (issue 20).
        if head < order.endIndex && order[head].sequence == sequence { return head }
        var low = head
        var high = order.endIndex
        while low < high {
            let middle = (low + high) / 2
            if order[middle].sequence < sequence { low = middle + 1 } else { high = middle }
        }
        return low < order.endIndex && order[low].sequence == sequence ? low : nil
    }
}
