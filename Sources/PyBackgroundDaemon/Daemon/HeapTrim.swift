import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Gives freed heap memory back to the system.
///
/// glibc keeps what a burst freed (a large reply, thousands of dropped tasks) in its arenas, so a
/// daemon that once held 100,000 tasks would keep their memory for the rest of its life.
/// `malloc_trim` returns the free pages; it is looked up at run time, so a libc without it
/// (musl) simply keeps its own policy.
enum HeapTrim {
    private typealias Trim = @convention(c) (Int) -> Int32

    private static let trim: Trim? = {
        #if canImport(Glibc)
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: Trim.self)
        #else
        return nil
        #endif
    }()

    private static let requested = Atomic<Bool>(false)

    /// Returns free memory now (a few milliseconds for a heap of a few hundred MiB; not on an event loop).
    static func now() {
        requested.store(false, ordering: .relaxed)
        _ = trim?(0)
    }

    /// Asks for a trim at the next housekeeping pass (from an event loop, which must not stall).
    static func request() {
        requested.store(true, ordering: .relaxed)
    }

    /// Trims if ``request()`` was called since the last trim.
    static func ifRequested() {
        if requested.exchange(false, ordering: .relaxed) { _ = trim?(0) }
    }
}
