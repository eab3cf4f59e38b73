import ArgumentParser
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
            Ids may be given by a unique prefix.

            Examples:
              pybgctl submit now               start the task "now"; print its id
              pybgctl submit echo hi --wait    start a task, print its output
              pybgctl wait 3f2a                wait for the task whose id starts 3f2a
              pybgctl status                   counts and the most recent tasks
              pybgctl futures --json           the future table, for scripts

            \(ExitStatus.summary)
            """,
        version: "0.1.0",
        subcommands: [
            SubmitCommand.self, StatusCommand.self, TasksCommand.self, FuturesCommand.self, LatestCommand.self,
            ResultCommand.self, WaitCommand.self, CancelCommand.self, ListCommand.self, CleanCommand.self,
            PingCommand.self, ShutdownCommand.self,
        ])

    /// Runs the command, turning a reported failure into its exit status.
    static func main() {
        do {
            if let plain = PlainSubmit(CommandLine.arguments.dropFirst()) {
                try plain.run()
            } else {
                var command = try parseAsRoot()
                try command.run()
            }
        } catch let failure as Failure {
            Glibc.exit(failure.status.rawValue)
        } catch {
            Self.exit(withError: error)
        }
    }
}
