import ArgumentParser
import PyBackgroundProtocol

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the daemon's state, counts and most recent tasks.")

    @OptionGroup var options: GlobalOptions

    @Option(name: .long, help: "How many recent tasks to list.")
    var limit = 10

    func run() throws {
        let (status, statusJSON) = try options.client.request(.status, as: StatusPayload.self)
        let (recent, recentJSON) = try options.client.request(.futures(limit: .mostRecent(max(0, limit))), as: FuturesPayload.self)
        if options.json {
            Output.line("{\"recent\":\(recentJSON),\"status\":\(statusJSON)}")
            return
        }
        let state = status.shuttingDown ? "shutting down" : status.stopped ? "idle" : "running"
        Output.line("pybgd \(status.version) (pid \(status.pid)): \(state), up \(Output.duration(status.uptimeSeconds)), \(status.workers) workers, \(status.connections) connection\(status.connections == 1 ? "" : "s")")
        Output.line("latest: \(status.latestID ?? "none")")
        let interrupted = status.interrupted > 0 ? ", \(status.interrupted) interrupted" : ""
        Output.line("tasks:  \(status.pending) pending, \(status.running) running, \(status.finished) finished, \(status.failed) failed, \(status.cancelled) cancelled\(interrupted) (\(status.submitted) submitted, \(status.retained) kept)")
        Output.line("state:  \(status.stateStore == "memory" ? "memory only (lost at exit)" : status.stateStore)")
        guard !recent.futures.isEmpty else { return }
        Output.line("")
        Output.futureRows(recent.futures).forEach(Output.line)
    }
}
