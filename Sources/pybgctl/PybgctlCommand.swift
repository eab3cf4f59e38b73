import ArgumentParser
import PyBackgroundProtocol

#if canImport(Glibc)
import Glibc
#endif

@main
struct PybgctlCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pybgctl",
        abstract: "Control pybgd: submit registered tasks, query the task and future tables, shut it down.",
        discussion: """
            Talks to pybgd over its Unix socket (--socket, else $PYBGD_SOCKET, else the daemon's default). \
            Every query takes --json for scripts; the JSON is the daemon's reply as PROTOCOL.md describes it. \
            Ids may be given by a unique prefix. --socket, --json and --timeout may also come before the \
            command (pybgctl --socket PATH status). A daemon that does not reply within $PYBGCTL_TIMEOUT \
            seconds (default 5; --timeout) makes pybgctl give up with exit 69; wait and submit --wait wait \
            as long as their own --timeout says.

            Examples:
              pybgctl submit now               start the task "now"; print its id
              pybgctl submit echo hi --wait    start a task, print its output
              pybgctl wait 3f2a                wait for the task whose id starts 3f2a
              pybgctl wait --all               wait for every task not yet ended
              pybgctl status                   counts and the most recent tasks
              pybgctl kill 3f2a                stop a task, running or not
              pybgctl queues                   each queue's limit, running, pending, paused
              pybgctl follow 3f2a 9c1d         the output of two tasks, live, until they end
              pybgctl watch                    tasks as they change, live
              pybgctl futures --json           the future table, for scripts

            \(ExitStatus.summary)
            """,
        version: PyBackgroundVersion.current,
        subcommands: [
            SubmitCommand.self, StatusCommand.self, TasksCommand.self, FuturesCommand.self, LatestCommand.self,
            ResultCommand.self, WaitCommand.self, CancelCommand.self, KillCommand.self, RetryCommand.self, ListCommand.self,
            CleanCommand.self, QueuesCommand.self, PauseCommand.self, ResumeCommand.self,
            PingCommand.self, ShutdownCommand.self, ScheduleCommand.self, LogCommand.self, FollowCommand.self, WatchCommand.self,
        ])

    /// The command line after the program's name, leading options moved behind the subcommand.
    nonisolated(unsafe) static var words: [String] = []

    /// Runs the command, turning a reported failure into its exit status.
    static func main() {
        do {
            words = LeadingOptions.normalize(Array(CommandLine.arguments.dropFirst()))
            if let plain = PlainCommand(words) {
                try plain.run()
            } else {
                var command = try parseAsRoot(words)
                try command.run()
            }
        } catch let failure as Failure {
            Glibc.exit(failure.status.rawValue)
        } catch {
            Self.exit(withError: error)
        }
    }
}
