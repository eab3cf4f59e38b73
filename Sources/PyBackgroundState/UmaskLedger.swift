#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The bookkeeping behind ``ProcessUmask``, apart from the process so that it can be checked with
/// a umask of its own: how many narrowings are open, and the umask from before the first.
struct UmaskLedger {
    private var open = 0
    private var original: mode_t = 0

    /// Adds `mode`'s restriction; `setUmask` sets the umask and returns the one it replaced.
    mutating func narrow(to mode: mode_t, setUmask: (mode_t) -> mode_t) {
        let mask = 0o777 & ~mode
        let previous = setUmask(mask)
        if open == 0 {
            original = previous
        } else {
            // Another narrowing is open: the union of the two masks, the narrower of both.
            _ = setUmask(previous | mask)
        }
        open += 1
    }

    /// Ends one narrowing; the last puts back the umask from before the first.
    mutating func widen(setUmask: (mode_t) -> mode_t) {
        precondition(open > 0, "a umask widened more often than it was narrowed")
        open -= 1
        if open == 0 { _ = setUmask(original) }
    }
}
