/// The futures waiting for a worker, by named queue and priority: a worker takes the
/// highest-priority head among the queues that may start a task (not paused, under their
/// `maxRunning`), the earliest submitted among equals. Within one queue and priority, first in,
/// first out.
///
/// A task without options is in the default queue at priority 0: the fast path is one lane with
/// one level, a push and a pop on a FIFO.
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
        var running = 0
        /// Descending priority; a level stays until its queue is empty.
        fileprivate var levels: [(priority: Int, futures: FIFOQueue<Future>)] = []
        private(set) var count = 0

        init(name: String, maxRunning: Int?) {
            self.name = name
            self.maxRunning = maxRunning
        }

        var mayStart: Bool { count > 0 && !paused && (maxRunning.map { running < $0 } ?? true) }

        fileprivate mutating func push(_ future: Future, priority: Int) {
            count += 1
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

        /// The head's priority and submission order.
        fileprivate var head: (priority: Int, sequence: Int)? {
            for level in levels {
                if let first = level.futures.first { return (level.priority, first.sequence) }
            }
            return nil
        }

        fileprivate mutating func pop() -> Future? {
            for index in levels.indices {
                if let future = levels[index].futures.pop() {
                    count -= 1
                    if levels[index].futures.isEmpty && levels.count > 1 { levels.remove(at: index) }
                    return future
                }
            }
            return nil
        }

        fileprivate mutating func removeAll() -> [Future] {
            defer {
                levels = []
                count = 0
            }
            var removed: [Future] = []
            for index in levels.indices { removed += levels[index].futures.removeAll() }
            return removed.sorted { $0.sequence < $1.sequence }
        }
    }

    static let defaultName = "default"

    private(set) var lanes = [Lane(name: ReadyQueues.defaultName, maxRunning: nil)]
    private var indexByName = [ReadyQueues.defaultName: 0]
    /// Futures queued in every lane.
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    func index(of name: String) -> Int? { indexByName[name] }

    /// Adds a queue or changes its limit.
    mutating func configure(_ name: String, maxRunning: Int?) {
        if let index = indexByName[name] {
            lanes[index].maxRunning = maxRunning
        } else {
            indexByName[name] = lanes.count
            lanes.append(Lane(name: name, maxRunning: maxRunning))
        }
    }

    /// Pauses or resumes a queue; false for an unknown name.
    mutating func setPaused(_ name: String, _ paused: Bool) -> Bool {
        guard let index = indexByName[name] else { return false }
        lanes[index].paused = paused
        return true
    }

    mutating func push(_ future: Future) {
        count += 1
        guard future.record.hasOptions else {
            lanes[0].push(future, priority: 0)
            return
        }
        let options = future.record.options
        lanes[options.queue.flatMap { indexByName[$0] } ?? 0].push(future, priority: options.priority)
    }

    /// The next future a worker may start, and its lane (for ``ended(lane:)``); counted running.
    mutating func pop() -> (future: Future, lane: Int)? {
        var chosen: Int?
        if lanes.count == 1 {
            if lanes[0].mayStart { chosen = 0 }
        } else {
            var best: (priority: Int, sequence: Int)?
            for index in lanes.indices where lanes[index].mayStart {
                guard let head = lanes[index].head else { continue }
                if let current = best, current.priority > head.priority || (current.priority == head.priority && current.sequence < head.sequence) {
                    continue
                }
                best = head
                chosen = index
            }
        }
        guard let chosen, let future = lanes[chosen].pop() else { return nil }
        count -= 1
        lanes[chosen].running += 1
        return (future, chosen)
    }

    /// A future taken by ``pop()`` from `lane` ended (or left for its next attempt).
    mutating func ended(lane: Int) {
        lanes[lane].running -= 1
    }

    /// Whether a worker could start something now.
    var anyMayStart: Bool { lanes.contains { $0.mayStart } }

    /// Removes every queued future, oldest first.
    mutating func removeAll() -> [Future] {
        count = 0
        return lanes.indices.flatMap { lanes[$0].removeAll() }.sorted { $0.sequence < $1.sequence }
    }

    /// Removes the futures of paused queues, oldest first: at close they would never start.
    mutating func removePaused() -> [Future] {
        var removed: [Future] = []
        for index in lanes.indices where lanes[index].paused {
            let taken = lanes[index].removeAll()
            count -= taken.count
            removed += taken
        }
        return removed.sorted { $0.sequence < $1.sequence }
    }
}
