import ArgumentParser
import PyBackgroundProtocol

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the daemon's state, counts and most recent tasks.",
        discussion: "With --json: the STATUS reply (PROTOCOL.md); `pybgctl futures --json` gives the tasks.")

    @OptionGroup var options: GlobalOptions
    @OptionGroup var reply: ReplyTimeoutOption

    /// How many recent tasks `status` lists unless `--limit` says.
    static let defaultLimit = 10

    @Option(name: .long, parsing: .unconditional, help: "How many recent tasks to list.")
    var limit = defaultLimit

    func validate() throws {
        if limit < 0 { throw ValidationError("--limit must be a number ≥ 0, got \(limit)") }
    }

    func run() throws {
        try Self.show(limit: limit, client: try options.client(replyTimeout: reply.timeout))
    }

    /// The status, then the `limit` most recent tasks (with `--json`: the STATUS reply). Also the
    /// whole of a ``PlainCommand`` `status`.
    static func show(limit: Int, client: DaemonClient) throws {
        let (status, statusJSON) = try client.request(.status, as: StatusPayload.self)
        if client.json {
            Output.json(statusJSON)
            return
        }
        let state = status.shuttingDown ? "shutting down" : status.stopped ? "idle" : "running"
        Output.line(
            "pybgd \(status.version) (pid \(status.pid)): \(state), up \(Output.duration(status.uptimeSeconds)), \(status.workers) workers, \(status.connections) connection\(status.connections == 1 ? "" : "s")"
        )
        Output.line("latest: \(status.latestID ?? "none")")
        let interrupted = status.interrupted > 0 ? ", \(status.interrupted) interrupted" : ""
        let waitingForTime = status.scheduled > 0 ? "\(status.scheduled) scheduled, " : ""
        let waitingForTasks = status.waiting > 0 ? "\(status.waiting) waiting, " : ""
        let retrying = status.retrying > 0 ? ", \(status.retrying) retrying" : ""
        Output.line(
            "tasks:  \(waitingForTime)\(waitingForTasks)\(status.pending) pending, \(status.running) running\(retrying), \(status.finished) finished, \(status.failed) failed, \(status.cancelled) cancelled\(interrupted) (\(status.submitted) submitted, \(status.retained) kept)"
        )
        // Queues only once there is more than the default one, or it is paused.
        if status.queues.count > 1 || status.queues.contains(where: \.paused) {
            let queues = status.queues.map {
                "\($0.name) \($0.running)/\($0.maxRunning)\($0.pending > 0 ? " +\($0.pending)" : "")\($0.paused ? " paused" : "")"
            }
            Output.line("queues: " + queues.joined(separator: ", "))
        }
        Output.line("state:  \(status.stateStore == "memory" ? "memory only (lost at exit)" : status.stateStore)")
        if let cluster = status.cluster {
            let order = ["scheduled", "waiting", "pending", "running", "retrying"]
            let counts = order.compactMap { state in cluster.tasks[state].map { "\($0) \(state)" } }
            Output.line(
                "cluster: \(cluster.hosts.count) host\(cluster.hosts.count == 1 ? "" : "s"), \(counts.isEmpty ? "no task waiting or running" : counts.joined(separator: ", "))"
            )
            for host in cluster.hosts {
                Output.line(
                    "  \(host.name): \(host.running) running of \(host.workers) workers, heard \(Output.duration(host.silentSeconds)) ago (pybgd \(host.version))"
                )
            }
        }
        if !status.nextFirings.isEmpty {
            Output.line("next:   " + status.nextFirings.map { "\($0.schedule) \(Output.when($0.at))" }.joined(separator: ", "))
        }
        guard limit > 0 else { return }
        let (recent, _) = try client.request(.futures(limit: .mostRecent(limit)), as: FuturesPayload.self)
        guard !recent.futures.isEmpty else { return }
        Output.line("")
        Output.futureRows(recent.futures).forEach(Output.line)
        if recent.total > recent.futures.count {
            Output.line("(the \(recent.futures.count) most recent of \(recent.total); pybgctl futures --all lists every one)")
        }
    }
}
