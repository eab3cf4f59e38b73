#if canImport(Glibc)
import Glibc
#endif

/// A value read on every task event by several threads at once and changed rarely (a reader
/// subscribes, a metric's first sample): a reader-writer lock, so that readers never wait for
/// each other. A `Mutex` here made the workers and the event loop queue on one futex for every
/// event (`_lockSlow` and futex calls were a fifth of the watched event loop's time).
final class ReadMostly<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = UnsafeMutablePointer<pthread_rwlock_t>.allocate(capacity: 1)

    init(_ value: Value) {
        self.value = value
        lock.initialize(to: pthread_rwlock_t())
        pthread_rwlock_init(lock, nil)
    }

    deinit {
        pthread_rwlock_destroy(lock)
        lock.deallocate()
    }

    /// Reads under the shared lock.
    func read<Result>(_ body: (Value) throws -> Result) rethrows -> Result {
        pthread_rwlock_rdlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body(value)
    }

    /// Changes under the exclusive lock.
    func write<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        pthread_rwlock_wrlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body(&value)
    }
}

extension ReadMostly {
    /// The value for `key`, made by `make` and kept the first time it is asked for: a shared
    /// read when it is there already (every time but the first), and of threads asking together
    /// the first time, one makes it.
    func value<Key: Hashable, Element>(for key: Key, orInsert make: () -> Element) -> Element
    where Value == [Key: Element] {
        if let found = read({ $0[key] }) { return found }
        return write { all in
            if let found = all[key] { return found }
            let made = make()
            all[key] = made
            return made
        }
    }
}
