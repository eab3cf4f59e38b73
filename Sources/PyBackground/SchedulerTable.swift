/// A read-only view of a scheduler's tasks or futures, keyed by id: the seed's `task` and
/// `future` dictionaries.
///
/// Taking a view is O(1) and a lookup by id is O(1): unlike the seed's `dict(...)` copies, a view
/// reads through to the scheduler's table. It is bounded when taken: tasks started afterwards are
/// not in it. Tasks it held may leave it only when a retention bound (`keepFinished`) drops them.
/// Iterating visits the tasks in the order they were started.
///
/// ```swift
/// let futures = scheduler.futures
/// for (id, future) in futures where future.state == .failed {
///     print(id, future.error!)
/// }
/// let record = scheduler.tasks[id]
/// ```
public struct SchedulerTable<Value: Sendable>: Sequence, Sendable {
    /// An id and its entry, as a dictionary iterates.
    public typealias Element = (key: TaskID, value: Value)

    private let store: TaskStore
    private let bound: Int
    private let project: @Sendable (Future) -> Value

    init(store: TaskStore, project: @escaping @Sendable (Future) -> Value) {
        self.store = store
        self.bound = store.nextSequence
        self.project = project
    }

    /// The entry for `id`, or nil if there is none in this view.
    public subscript(id: TaskID) -> Value? {
        store.future(id, before: bound).map(project)
    }

    /// The number of entries.
    public var count: Int { store.count(before: bound) }

    /// True when the view holds no entry.
    public var isEmpty: Bool { count == 0 }

    /// The ids, oldest first.
    public var ids: [TaskID] { store.futures(before: bound).map(\.id) }

    /// The `limit` most recently started entries, oldest first; O(limit), not O(count).
    public func recent(_ limit: Int) -> [Element] {
        store.futures(before: bound, limit: Swift.max(0, limit)).map { ($0.id, project($0)) }
    }

    /// Iterates the entries in start order (collects them once, O(count)).
    public func makeIterator() -> Array<Element>.Iterator {
        store.futures(before: bound).map { ($0.id, project($0)) }.makeIterator()
    }
}

/// The task table: id → what was started (the seed's `scheduler.task`).
public typealias TaskTable = SchedulerTable<TaskRecord>

/// The future table: id → its future (the seed's `scheduler.future`).
public typealias FutureTable = SchedulerTable<Future>
