/// The futures waiting for a worker, by named queue and priority: a worker takes the
/// highest-priority head among the queues that may start a task (not paused, under their
/// `maxRunning`), the earliest submitted among equals. Within one queue and priority, first in,
/// first out.
///
/// A task without options is in the default queue at priority 0, in ``plain``. While nothing else
/// is queued and the default queue has no limit and is not paused, a push and a pop touch that one
/// FIFO and nothing else, as before queues existed. Measured: with counters and lanes on the hot
/// path, the core lost a fifth of its throughput, the extra writes being one more cache line the
/// producer and the workers fought over.
///
/// Priority is strict: a low-priority task waits as long as higher ones keep coming into its
/// queue. What protects it is a queue of its own: a queue's `maxRunning` caps what the others
/// can take, so a low-priority queue keeps the remaining workers.
struct ReadyQueues {
    struct Lane {
        let name: String
        /// Nil: as many as there are workers.
        var maxRunning: Int?
        var paused = false
        /// Counted only for a lane with a limit, and for named lanes (see ``ReadyQueues/pop()``).
        var running = 0
        /// Priority 0 of a named lane (the default lane's is ``ReadyQueues/plain``).
        fileprivate var zero = FIFOQueue<Future>()
        /// Every other priority, descending; a level is removed once it is empty.
        fileprivate var levels: [(priority: Int, futures: FIFOQueue<Future>)] = []

        init(name: String, maxRunning: Int?) {
            self.name = name
            self.maxRunning = maxRunning
        }

        /// Queued at priorities other than 0.
        fileprivate var leveled: Int { levels.reduce(0) { $0 + $1.futures.count } }

        fileprivate var underLimit: Bool { !paused && (maxRunning.map { running < $0 } ?? true) }

        fileprivate mutating func push(_ future: Future, priority: Int) {
            guard priority != 0 else {
                zero.push(future)
                return
            }
            if let index = levels.firstIndex(where: { $0.priority <= priority }) {
                if levels[index].priority == priority {
                    levels[index].futures.push(future)
                    return
                }
                var level = FIFOQueue<Future>()
                level.push(future)
                levels.insert((priority, level), at: index)
            } else {
                var level = FIFOQueue<Future>()
                level.push(future)
                levels.append((priority, level))
            }
        }

        /// The head's priority and submission order, priority 0 being `zero`.
        fileprivate func head(zero: FIFOQueue<Future>) -> (priority: Int, sequence: Int)? {
            for level in levels where level.priority > 0 {
                if let first = level.futures.first { return (level.priority, first.sequence) }
            }
            if let first = zero.first { return (0, first.sequence) }
            for level in levels where level.priority < 0 {
                if let first = level.futures.first { return (level.priority, first.sequence) }
            }
            return nil
        }

        fileprivate mutating func pop(zero: inout FIFOQueue<Future>) -> Future? {
            for index in levels.indices where levels[index].priority > 0 {
                if let future = popLevel(index) { return future }
            }
            if let future = zero.pop() { return future }
            for index in levels.indices where levels[index].priority < 0 {
                if let future = popLevel(index) { return future }
            }
            return nil
        }

        private mutating func popLevel(_ index: Int) -> Future? {
            guard let future = levels[index].futures.pop() else { return nil }
            if levels[index].futures.isEmpty { levels.remove(at: index) }
            return future
        }

        /// ``pop(zero:)`` with the lane's own priority-0 FIFO (a named lane).
        fileprivate mutating func pop() -> Future? {
            var own = zero
            zero = FIFOQueue()  // moved out and back: `own` stays unique, no copy
            defer { zero = own }
            return pop(zero: &own)
        }

        fileprivate mutating func removeAll() -> [Future] {
            var own = zero
            zero = FIFOQueue()
            defer { zero = own }
            return removeAll(zero: &own)
        }

        fileprivate mutating func removeAll(zero: inout FIFOQueue<Future>) -> [Future] {
            var removed = zero.removeAll()
            for index in levels.indices { removed += levels[index].futures.removeAll() }
            levels = []
            return removed
        }
    }

    static let defaultName = "default"

    /// The default queue's priority-0 futures: nearly all of them.
    private var plain = FIFOQueue<Future>()
    /// Lane 0 is the default queue, then the named ones in the order they were configured.
    private(set) var lanes = [Lane(name: ReadyQueues.defaultName, maxRunning: nil)]
    private var indexByName = [ReadyQueues.defaultName: 0]
    /// Nothing queued but in ``plain``, and the default queue neither limited nor paused.
    private var isPlain = true

    /// Futures queued in every lane.
    @inline(__always) var count: Int { isPlain ? plain.count : countOfAllLanes }

    @inline(__always) var isEmpty: Bool { count == 0 }

    @inline(never) private var countOfAllLanes: Int {
        plain.count + lanes.reduce(0) { $0 + $1.zero.count + $1.leveled }
    }

    /// Queued in lane `index`.
    func count(ofLane index: Int) -> Int {
        (index == 0 ? plain.count : lanes[index].zero.count) + lanes[index].leveled
    }

    func index(of name: String) -> Int? { indexByName[name] }

    /// Adds a queue or changes its limit.
    mutating func configure(_ name: String, maxRunning: Int?) {
        if let index = indexByName[name] {
            lanes[index].maxRunning = maxRunning
        } else {
            indexByName[name] = lanes.count
            lanes.append(Lane(name: name, maxRunning: maxRunning))
        }
        refreshPlain()
    }

    /// Pauses or resumes a queue; false for an unknown name.
    mutating func setPaused(_ name: String, _ paused: Bool) -> Bool {
        guard let index = indexByName[name] else { return false }
        lanes[index].paused = paused
        refreshPlain()
        return true
    }

    @inline(__always) mutating func push(_ future: Future) {
        guard future.record.hasOptions else {
            plain.push(future)
            return
        }
        pushWithOptions(future)
    }

    @inline(never) private mutating func pushWithOptions(_ future: Future) {
        let options = future.record.options
        let lane = options.queue.flatMap { indexByName[$0] } ?? 0
        if lane == 0 && options.priority == 0 {
            plain.push(future)
        } else {
            lanes[lane].push(future, priority: options.priority)
            isPlain = false
        }
    }

    /// The next future a worker may start, and the lane it counts as running in (for
    /// ``ended(lane:)``): nil for the default queue without a limit, so that the common case
    /// writes no counter.
    @inline(__always) mutating func pop() -> (future: Future, lane: Int?)? {
        if isPlain {
            guard let future = plain.pop() else { return nil }
            return (future, nil)
        }
        return popFromLanes()
    }

    @inline(never) private mutating func popFromLanes() -> (future: Future, lane: Int?)? {
        var chosen: Int?
        var best: (priority: Int, sequence: Int)?
        for index in lanes.indices where lanes[index].underLimit {
            guard let head = lanes[index].head(zero: index == 0 ? plain : lanes[index].zero) else { continue }
            if let current = best, current.priority > head.priority || (current.priority == head.priority && current.sequence < head.sequence) {
                continue
            }
            best = head
            chosen = index
        }
        guard let chosen else { return nil }
        let future: Future?
        if chosen == 0 {
            future = lanes[0].pop(zero: &plain)
        } else {
            future = lanes[chosen].pop()
        }
        guard let future else { return nil }
        let counted = chosen != 0 || lanes[0].maxRunning != nil
        if counted { lanes[chosen].running += 1 }
        refreshPlain()
        return (future, counted ? chosen : nil)
    }

    /// A future taken by ``pop()`` from `lane` ended (or left for its next attempt).
    mutating func ended(lane: Int) {
        lanes[lane].running -= 1
    }

    /// The default queue's running tasks when it has no limit (then they are not counted): all
    /// that run, less those of the named queues.
    func uncountedDefaultRunning(active: Int) -> Int {
        lanes[0].maxRunning == nil ? max(0, active - lanes.reduce(0) { $0 + $1.running }) : 0
    }

    /// Removes every queued future, oldest first.
    mutating func removeAll() -> [Future] {
        var removed = lanes[0].removeAll(zero: &plain)
        for index in lanes.indices.dropFirst() { removed += lanes[index].removeAll() }
        refreshPlain()
        return removed.sorted { $0.sequence < $1.sequence }
    }

    /// Removes the futures of paused queues, oldest first: at close they would never start.
    mutating func removePaused() -> [Future] {
        var removed: [Future] = []
        for index in lanes.indices where lanes[index].paused {
            removed += index == 0 ? lanes[0].removeAll(zero: &plain) : lanes[index].removeAll()
        }
        refreshPlain()
        return removed.sorted { $0.sequence < $1.sequence }
    }

    private mutating func refreshPlain() {
        let first = lanes[0]
        isPlain =
            first.levels.isEmpty && !first.paused && first.maxRunning == nil
            && lanes.dropFirst().allSatisfy { $0.zero.isEmpty && $0.levels.isEmpty }
    }
}
