import ArgumentParser
import PyBackgroundProtocol

/// `--limit N` or `--all` for the table commands.
struct RowLimit: ParsableArguments {
    @Option(name: .long, parsing: .unconditional, help: "How many of the most recent rows.")
    var limit = 100

    @Flag(name: .long, help: "Every row the daemon keeps.")
    var all = false

    func validate() throws {
        if limit < 0 { throw ValidationError("--limit must be a number ≥ 0, got \(limit)") }
    }

    var requestLimit: Request.Limit { all ? .all : .mostRecent(limit) }
}

struct TasksCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tasks", abstract: "List the task table: what was submitted, with its arguments.")

    @OptionGroup var options: GlobalOptions
    @OptionGroup var reply: ReplyTimeoutOption
    @OptionGroup var rows: RowLimit

    func run() throws {
        let client = try options.client(replyTimeout: reply.timeout)
        let (payload, json) = try client.request(.tasks(limit: rows.requestLimit), as: TasksPayload.self)
        if options.json {
            Output.json(json)
            return
        }
        let short = Output.shortIDs(payload.tasks.map(\.id))
        // RUN AT only when some task was submitted to run later.
        let timed = payload.tasks.contains { $0.runAt != nil }
        Output.table(
            ["ID", "NAME", "ARGS", "SUBMITTED"] + (timed ? ["RUN AT"] : []),
            payload.tasks.map { task in
                [
                    short[task.id] ?? task.id, VisibleText.cell(task.name, width: Output.nameWidth),
                    Output.arguments(task.args, task.kwargs), Clock.local(task.submittedAt),
                ] + (timed ? [task.runAt.map(Clock.local) ?? "-"] : [])
            }
        ).forEach(Output.line)
        if payload.total > payload.tasks.count { Output.line("(\(payload.tasks.count) of \(payload.total); --all for every one)") }
    }
}

struct FuturesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "futures", abstract: "List the future table: each task's state, duration and result.")

    @OptionGroup var options: GlobalOptions
    @OptionGroup var reply: ReplyTimeoutOption
    @OptionGroup var rows: RowLimit

    func run() throws {
        let client = try options.client(replyTimeout: reply.timeout)
        let (payload, json) = try client.request(.futures(limit: rows.requestLimit), as: FuturesPayload.self)
        if options.json {
            Output.json(json)
            return
        }
        Output.futureRows(payload.futures).forEach(Output.line)
        if payload.total > payload.futures.count { Output.line("(\(payload.futures.count) of \(payload.total); --all for every one)") }
    }
}

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List the registered tasks and their parameters.")

    @OptionGroup var options: GlobalOptions
    @OptionGroup var reply: ReplyTimeoutOption

    func run() throws {
        try Self.show(client: try options.client(replyTimeout: reply.timeout))
    }

    /// The registered tasks (with `--json`: the LIST reply). Also the whole of a ``PlainCommand`` `list`.
    static func show(client: DaemonClient) throws {
        let (payload, json) = try client.request(.list, as: ListPayload.self)
        if client.json {
            Output.json(json)
            return
        }
        Output.table(
            ["NAME", "KIND", "PARAMETERS", "DESCRIPTION"],
            payload.tasks.map { task in
                let parameters = task.parameters.map { parameter in
                    "\(parameter.name):\(parameter.type)" + (parameter.default.map { "=\($0.displayText)" } ?? "")
                }
                return [
                    VisibleText.cell(task.name, width: Output.nameWidth), task.kind,
                    parameters.isEmpty ? "-" : VisibleText.cell(parameters.joined(separator: " "), width: Output.argumentsWidth),
                    VisibleText.cell(task.description, width: Output.resultWidth),
                ]
            }
        ).forEach(Output.line)
    }
}
