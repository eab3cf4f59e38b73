import ArgumentParser
import PyBackgroundProtocol

struct WaitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait",
        abstract: "Wait for a task to end and print its result; exit 1 if it failed or was cancelled.")

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The task id, or a unique prefix of it.")
    var id: String

    @Option(name: .long, help: ArgumentHelp("Give up after this many seconds (exit 2).", valueName: "seconds"))
    var timeout: Double?

    func validate() throws {
        if let timeout, !(timeout >= 0 && timeout.isFinite) { throw ValidationError("--timeout must be a number of seconds ≥ 0") }
    }

    func run() throws {
        try Self.waitAndReport(id: id, timeout: timeout, client: options.client)
    }

    /// Waits, then prints the result the way the task would have: a command's stdout and stderr
    /// as they were, any other value as text.
    static func waitAndReport(id: String, timeout: Double?, client: DaemonClient) throws {
        let (future, json) = try client.request(.wait(id: id, timeout: timeout), as: FuturePayload.self)
        try report(future, json: json, asJSON: client.json)
    }

    static func report(_ future: FuturePayload, json: String, asJSON: Bool) throws {
        if asJSON {
            Output.line(json)
        } else if let result = future.result {
            if case .object(let fields) = result, let stdout = fields["stdout"] {
                Output.raw(stdout.displayText)
                if let stderr = fields["stderr"]?.displayText, !stderr.isEmpty { Output.raw(stderr, to: 2) }
            } else if result != .null {
                Output.line(result.displayText)
            }
        } else if !asJSON, !["finished", "failed", "cancelled", "interrupted"].contains(future.state) {
            Output.line(future.state)
        }
        if let error = future.error {
            if !asJSON, case .object(let fields)? = error.detail, let stderr = fields["stderr"]?.displayText, !stderr.isEmpty {
                Output.raw(stderr, to: 2)
            }
            if !asJSON { Output.error("pybgctl: task \(future.id) \(future.state): \(error.code): \(error.message)") }
            throw Failure(status: .taskFailed, message: error.message)
        }
    }
}
