import ArgumentParser

/// The options every subcommand takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "The daemon's socket. Default: $PYBGD_SOCKET, else $RUNTIME_DIRECTORY/pybgd.sock, else $XDG_RUNTIME_DIR/pybgd.sock, else /tmp/pybgd-UID/pybgd.sock; /run/pybgd/pybgd.sock when that exists (systemd).",
        valueName: "path"))
    var socket: String?

    @Flag(name: .long, help: "Print the daemon's JSON reply (see PROTOCOL.md) instead of text.")
    var json = false

    var client: DaemonClient { DaemonClient(socket: socket, json: json) }
}
