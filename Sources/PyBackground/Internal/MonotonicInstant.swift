#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A point on `CLOCK_MONOTONIC`, the clock the condition variables wait on.
///
/// `ContinuousClock` is `CLOCK_BOOTTIME` on Linux, so its instants cannot be handed to
/// `pthread_cond_timedwait`; deadlines are computed on the same clock they are waited on.
package struct MonotonicInstant: Comparable, Sendable {
    package var nanoseconds: Int64

    package static var now: MonotonicInstant {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return MonotonicInstant(nanoseconds: Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec))
    }

    /// The instant `duration` from now; a negative duration is now, an enormous one saturates.
    package static func after(_ duration: Duration) -> MonotonicInstant {
        let (seconds, attoseconds) = duration.components
        let clamped = max(0, seconds)
        let (secondsAsNanos, overflow) = clamped.multipliedReportingOverflow(by: 1_000_000_000)
        let delta = overflow ? Int64.max / 2 : secondsAsNanos + (seconds < 0 ? 0 : attoseconds / 1_000_000_000)
        let (sum, sumOverflow) = now.nanoseconds.addingReportingOverflow(delta)
        return MonotonicInstant(nanoseconds: sumOverflow ? Int64.max / 2 : sum)
    }

    package var absoluteTime: timespec {
        timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
    }

    package static func < (lhs: MonotonicInstant, rhs: MonotonicInstant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }
}
