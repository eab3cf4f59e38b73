import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

/// The options every subcommand takes; they may also come before the subcommand
/// (``LeadingOptions``): `pybgctl --socket PATH status`.
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The daemon's socket. Default: $PYBGD_SOCKET, else $RUNTIME_DIRECTORY/pybgd.sock, else $XDG_RUNTIME_DIR/pybgd.sock, else /tmp/pybgd-UID/pybgd.sock; /run/pybgd/pybgd.sock when that exists (systemd).",
            valueName: "path"))
    var socket: String?

    @Flag(name: .long, help: "Print the daemon's JSON reply (see PROTOCOL.md) instead of text.")
    var json = false

    /// The client, waiting for replies as long as `timeout` (else PYBGCTL_TIMEOUT, else the default) says.
    func client(replyTimeout timeout: Double? = nil) throws -> DaemonClient {
        DaemonClient(socket: socket, json: json, replyTimeout: try ReplyTimeout.resolve(option: timeout))
    }
}

/// `--timeout` for the commands that do not have a timeout of their own (`wait` and `submit
/// --wait` wait for the task as long as their `--timeout` says; `shutdown` for the daemon's).
struct ReplyTimeoutOption: ParsableArguments {
    @Option(
        name: .customLong("timeout"), parsing: .unconditional,
        help: ArgumentHelp(
            "Give up when the daemon has not replied after this many seconds (exit 69); 0: no limit. Default: $PYBGCTL_TIMEOUT, else 5.",
            valueName: "seconds"))
    var timeout: Double?

    func validate() throws {
        if let timeout { try ReplyTimeout.check(timeout, source: "--timeout") }
    }
}

/// How long pybgctl waits for a reply before it gives up on a daemon that does not answer (one
/// that is stopped, or hung): an unanswered request must not hang a script for ever.
enum ReplyTimeout {
    /// Seconds, unless PYBGCTL_TIMEOUT or `--timeout` say otherwise.
    static let defaultSeconds = 5.0

    /// `--timeout`, else PYBGCTL_TIMEOUT, else ``defaultSeconds``; nil (no limit) for 0.
    static func resolve(option: Double?) throws -> Double? {
        var seconds = defaultSeconds
        if let option {
            seconds = option
        } else if let text = getenv("PYBGCTL_TIMEOUT").map({ String(cString: $0) }), !text.isEmpty {
            guard let value = Double(text) else {
                throw ValidationError("PYBGCTL_TIMEOUT must be a number of seconds ≥ 0, got \"\(text)\"")
            }
            try check(value, source: "PYBGCTL_TIMEOUT")
            seconds = value
        }
        return seconds == 0 ? nil : seconds
    }

    static func check(_ seconds: Double, source: String) throws {
        guard seconds >= 0, seconds.isFinite else {
            throw ValidationError("\(source) must be a number of seconds ≥ 0 (0: no limit), got \(seconds)")
        }
    }
}
