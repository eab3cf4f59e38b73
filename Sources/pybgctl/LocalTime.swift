import PyBackgroundProtocol

#if canImport(Glibc)
import Glibc
#endif

/// The user's time zone (TZ, else /etc/localtime) as the C library reads it: pybgctl does not load
/// Foundation's time zones (they cost its start-up; see PlainCommand).
enum LocalTime {
    /// Seconds east of UTC at an instant.
    static func offset(at epochSeconds: Double) -> Int {
        var seconds = time_t(epochSeconds.rounded(.down))
        var parts = tm()
        localtime_r(&seconds, &parts)
        return parts.tm_gmtoff
    }

    /// `time` with the offset of the user's zone it is read with; one with an offset as it is.
    static func withOffset(_ time: Timestamp) -> Timestamp {
        guard time.offsetSeconds == nil else { return time }
        let instant = time.epochSeconds(offsetAt: offset(at:))
        return Timestamp(instant: instant, offsetSeconds: offset(at: instant))
    }
}
