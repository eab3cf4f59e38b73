#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A value behind a lock that spins briefly before it sleeps, for a critical section of a copy
/// that several threads enter once per task event (``EventLineQueue``).
///
/// On Linux `Synchronization.Mutex` is a priority-inheritance futex, which never spins: the event
/// loop and the workers met on it and went into the kernel for most events. glibc's adaptive
/// mutex spins for about as long as such a copy takes first. (The same lock on the scheduler's
/// task table measured slower than its `Mutex`, with rounds rotated: BENCHMARKS.md, issue 18.)
/// Elsewhere this is a plain pthread mutex.
final class SpinningLock<Value>: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var value: Value

    init(_ value: Value) {
        self.value = value
        var attributes = pthread_mutexattr_t()
        pthread_mutexattr_init(&attributes)
        #if canImport(Glibc)
        pthread_mutexattr_settype(&attributes, Int32(PTHREAD_MUTEX_ADAPTIVE_NP))
        #endif
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, &attributes)
        pthread_mutexattr_destroy(&attributes)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
