import ArgumentParser
import PyBackgroundProtocol

struct SubmitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Start a registered task; print its id (or, with --wait, its result).",
        discussion: """
            Arguments are positional or key=value, checked against the task's parameters \
            (see `pybgctl list`). Put -- before an argument that starts with a dash.
              pybgctl submit now
              pybgctl submit now 2
              pybgctl submit echo message="hello world" --wait
            """)

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The registered task's name.")
    var name: String

    @Argument(help: "Its arguments: values in order, or key=value.")
    var arguments: [String] = []

    @Flag(name: .long, help: "Wait for the task and print its result; exit 1 if it failed.")
    var wait = false

    @Option(name: .long, help: ArgumentHelp("With --wait, give up after this many seconds (exit 2).", valueName: "seconds"))
    var timeout: Double?

    func validate() throws {
        if let timeout, !(timeout >= 0 && timeout.isFinite) { throw ValidationError("--timeout must be a number of seconds ≥ 0") }
        if timeout != nil && !wait { throw ValidationError("--timeout goes with --wait") }
    }

    func run() throws {
        try Self.submit(name, arguments, wait: wait, timeout: timeout, client: options.client)
    }

    /// Submits; prints the id, or with `wait` the result. Also the whole of a ``PlainSubmit``.
    static func submit(_ name: String, _ arguments: [String], wait: Bool, timeout: Double?, client: DaemonClient) throws {
        let request = Request.submit(task: name, arguments: arguments)
        let json = try client.request(request)
        let submitted = try SubmitPayload(plainJSON: json) ?? client.decode(SubmitPayload.self, from: json, replyingTo: request)
        guard wait else {
            Output.line(client.json ? json : submitted.id)
            return
        }
        try WaitCommand.waitAndReport(id: submitted.id, timeout: timeout, client: client)
    }
}
