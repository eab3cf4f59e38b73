import ArgumentParser
import PyBackgroundProtocol

struct SubmitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Start a registered task; print its id (or, with --wait, its result).",
        discussion: """
            Arguments are positional or key=value, checked against the task's parameters \
            (see `pybgctl list`). A word name=value whose name is not one of the task's parameters \
            is refused (a misspelled keyword would otherwise become a value): words after -- are \
            taken as values as they are, dashes and = included.
              pybgctl submit now
              pybgctl submit now 2
              pybgctl submit echo message="hello world" --wait
              pybgctl submit echo -- -n a=b
              pybgctl submit backup /srv --in 10m
              pybgctl submit backup /srv --at 2026-12-01T03:00
              pybgctl submit backup /srv --queue io --priority 5 --attempts 3 --time-limit 10m
              pybgctl submit report --after 3f2a,77c1 --unique nightly-report
            With --in or --at the task waits, scheduled, until then: `pybgctl cancel ID` \
            withdraws it, and it survives a restart of pybgd. --at without an offset is your \
            local time (TZ). With --unique, a key a live task holds gives that task's id back \
            (on stderr: "already submitted") instead of a second task.
            """)

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The registered task's name.")
    var name: String

    @Argument(help: "Its arguments: values in order, or key=value.")
    var arguments: [String] = []

    @Option(name: .customLong("in"), parsing: .unconditional, help: ArgumentHelp("Run after this long: 10s, 5m, 2h, 1d, 1h30m.", valueName: "span"))
    var delay: String?

    @Option(name: .customLong("at"), parsing: .unconditional, help: ArgumentHelp("Run at this time: 2026-12-01T03:00[:SS][Z|±HH:MM].", valueName: "time"))
    var time: String?

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("The queue it waits in (see pybgctl queues).", valueName: "name"))
    var queue: String?

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Higher runs first within its queue (default: the task's, else 0).", valueName: "n"))
    var priority: Int?

    @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Run once these tasks finished; cancelled if one fails.", valueName: "id,…"))
    var after: [String] = []

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("At most this many attempts in all: a failure is retried with backoff.", valueName: "n"))
    var attempts: Int?

    @Option(
        name: .customLong("time-limit"), parsing: .unconditional,
        help: ArgumentHelp("Stop each attempt after this long (10s, 5m, 1h): it fails timed-out.", valueName: "span"))
    var timeLimit: String?

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("No second live task with this key: a repeat gets the first's id.", valueName: "key"))
    var unique: String?

    @Flag(name: .long, help: "Wait for the task and print its result; exit 1 if it failed.")
    var wait = false

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("With --wait, give up after this many seconds (exit 2).", valueName: "seconds"))
    var timeout: Double?

    func validate() throws {
        if let timeout, !(timeout >= 0 && timeout.isFinite) { throw ValidationError("--timeout must be a number of seconds ≥ 0, got \(timeout)") }
        if timeout != nil && !wait { throw ValidationError("--timeout goes with --wait") }
        _ = try submitOptions()
    }

    func run() throws {
        let words = Self.requestWords(arguments, commandLine: PybgctlCommand.words)
        try Self.submit(name, words, options: try submitOptions(), wait: wait, timeout: timeout, client: options.client())
    }

    /// `--in` as `in=`, `--at` as `at=` with the offset of the user's zone at that time, so that
    /// the daemon's zone plays no part; the flow options as their words, checked by the same
    /// parser the daemon uses.
    func submitOptions() throws -> SubmitOptions {
        var words: [String] = []
        do {
            switch (delay, time) {
            case (nil, nil): break
            case (let delay?, nil): words.append("in=\(TimeSpan.format(try TimeSpan.parse(delay[...])))")
            case (nil, let time?): words.append("at=\(LocalTime.withOffset(try Timestamp.parse(time[...])))")
            case (.some, .some): throw ValidationError("--in and --at both say when to run: give one")
            }
            if let queue { words.append("queue=\(queue)") }
            if let priority { words.append("priority=\(priority)") }
            if !after.isEmpty { words.append("after=\(after.joined(separator: ","))") }
            if let attempts { words.append("attempts=\(attempts)") }
            if let timeLimit { words.append("timeout=\(timeLimit)") }
            if let unique { words.append("unique=\(unique)") }
            return try SubmitOptions.take(from: words + ["-"]).options
        } catch let error as ProtocolError {
            throw ValidationError(error.message)
        }
    }

    /// The words of the SUBMIT request: `arguments` with a `--` put back before those that came
    /// after `--` on the command line, so that the daemon takes them as values too.
    /// (ArgumentParser ends options at `--` but does not say where it was: the values after it
    /// are the last of `arguments`, as many as the words after the first `--`.)
    static func requestWords(_ arguments: [String], commandLine: [String]) -> [String] {
        guard let terminator = commandLine.firstIndex(of: "--") else { return arguments }
        let literal = min(commandLine.count - terminator - 1, arguments.count)
        guard literal > 0 else { return arguments }
        return arguments.dropLast(literal) + ["--"] + arguments.suffix(literal)
    }

    /// Submits; prints the id, or with `wait` the result. Also the whole of a ``PlainCommand``.
    static func submit(
        _ name: String, _ arguments: [String], options: SubmitOptions = SubmitOptions(), wait: Bool, timeout: Double?, client: DaemonClient
    ) throws {
        let request = Request.submit(task: name, arguments: arguments, options: options)
        let json = try client.request(request)
        let submitted = try SubmitPayload(plainJSON: json) ?? client.decode(SubmitPayload.self, from: json, replyingTo: request)
        if let runAt = submitted.runAt, !client.json {
            Output.error("scheduled for \(Output.when(runAt))")
        }
        if submitted.existing == true, !client.json {
            Output.error("already submitted: task \(submitted.id) holds the unique key (\(submitted.state ?? "live")); no new task")
        }
        guard wait else {
            if client.json { Output.json(json) } else { Output.line(submitted.id) }
            return
        }
        try WaitCommand.waitAndReport(id: submitted.id, timeout: timeout, client: client)
    }
}
