import CSystemd

#if canImport(Glibc)
import Glibc
#endif

/// What pybgd tells systemd (sd_notify): ready once the socket accepts connections, live counts,
/// stopping, reloading, and watchdog keep-alives. Outside systemd (no `NOTIFY_SOCKET`) every call
/// is a no-op, as libsystemd makes it.
struct SystemdNotifier: Sendable {
    /// The keep-alive period systemd asked for (half of `WATCHDOG_USEC`), nil when it asked none.
    let watchdogInterval: Duration?

    init() {
        var microseconds: UInt64 = 0
        if sd_watchdog_enabled(0, &microseconds) > 0, microseconds > 0 {
            watchdogInterval = .microseconds(Int64(microseconds / 2))
        } else {
            watchdogInterval = nil
        }
    }

    func ready(status: String) { send("READY=1\nSTATUS=\(status)") }
    func status(_ text: String) { send("STATUS=\(text)") }
    func stopping() { send("STOPPING=1\nSTATUS=shutting down") }
    func watchdog() { send("WATCHDOG=1") }

    /// Announces a reload; systemd (Type=notify-reload) wants the monotonic time with it.
    func reloading() {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let microseconds = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
        send("RELOADING=1\nMONOTONIC_USEC=\(microseconds)")
    }

    private func send(_ state: String) {
        _ = sd_notify(0, state)
    }

    /// The listening socket systemd passed (socket activation), if it passed exactly one Unix stream
    /// socket that listens; nil when started without `LISTEN_FDS`.
    static func passedListeningSocket() throws(DaemonError) -> Int32? {
        let count = sd_listen_fds(1)
        guard count > 0 else { return nil }
        guard count == 1 else {
            throw DaemonError(.socketUnavailable, "systemd passed \(count) sockets; pybgd takes one (ListenStream= in pybgd.socket)")
        }
        let descriptor = SD_LISTEN_FDS_START
        guard sd_is_socket_unix(descriptor, SOCK_STREAM.rawValue.asInt32, 1, nil, 0) > 0 else {
            throw DaemonError(.socketUnavailable, "the socket systemd passed is not a listening Unix stream socket")
        }
        return descriptor
    }
}

extension UInt32 {
    fileprivate var asInt32: Int32 { Int32(bitPattern: self) }
}
