import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Narrows the process's umask while files that must never be more open than a mode are
/// created (the state store's database and write-ahead log, the control socket between bind and
/// chmod).
///
/// The umask belongs to the whole process, so narrowings that overlap (two daemons in one
/// process, as the tests run them, or a store opened while a socket binds) are counted here, the
/// narrowest mask holding while any is open, and the umask from before the first is put back
/// when the last ends. A save-and-restore per caller instead could leave the process's umask
/// narrowed for good: A saves 022 and sets 177, B saves 177, A restores 022, B restores 177. In
/// the test suite that left it at 177, and every Chromium the dashboard test started afterwards
/// crashed (SIGTRAP) on directories it created without the owner's search bit.
public enum ProcessUmask {
    private static let ledger = Mutex(UmaskLedger())

    /// Runs `body` with new files no more open than `mode`.
    public static func narrowed<T>(to mode: mode_t, _ body: () throws -> T) rethrows -> T {
        ledger.withLock { $0.narrow(to: mode, setUmask: umask) }
        defer { ledger.withLock { $0.widen(setUmask: umask) } }
        return try body()
    }

    /// Runs `body` (which may suspend: a bind on an event loop) with new files no more open than
    /// `mode`.
    public static func narrowed<T>(to mode: mode_t, _ body: () async throws -> T) async rethrows -> T {
        ledger.withLock { $0.narrow(to: mode, setUmask: umask) }
        defer { ledger.withLock { $0.widen(setUmask: umask) } }
        return try await body()
    }
}
