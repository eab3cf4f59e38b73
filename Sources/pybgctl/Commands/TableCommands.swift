import ArgumentParser
import PyBackgroundProtocol

/// `--limit N` or `--all` for the table commands.
struct RowLimit: ParsableArguments {
    @Option(name: .long, help: "How many of the most recent rows.")
    var limit = 100

    @Flag(name: .long, help: "Every row the daemon keeps.")
    var all = false

    var requestLimit: Request.Limit { all ? .all : .mostRecent(max(0, limit)) }
}

struct TasksCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tasks", abstract: "List the task table: what was submitted, with its arguments.")

    @OptionGroup var options: GlobalOptions
    @OptionGroup var rows: RowLimit

    func run() throws {
        let (payload, json) = try options.client.request(.tasks(limit: rows.requestLimit), as: TasksPayload.self)
        if options.json { Output.line(json); return }
        let short = Output.shortIDs(payload.tasks.map(\.id))
        Output.table(["ID", "NAME", "ARGS", "SUBMITTED"], payload.tasks.map { task in
            [short[task.id] ?? task.id, task.name, Output.arguments(task.args, task.kwargs), Clock.local(task.submittedAt)]
        }).forEach(Output.line)
        if payload.total > payload.tasks.count { Output.line("(\(payload.tasks.count) of \(payload.total); --all for every one)") }
    }
}

struct FuturesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "futures", abstract: "List the future table: each task's state, duration and result.")

    @OptionGroup var options: GlobalOptions
    @OptionGroup var rows: RowLimit

    func run() throws {
        let (payload, json) = try options.client.request(.futures(limit: rows.requestLimit), as: FuturesPayload.self)
        if options.json { Output.line(json); return }
        Output.futureRows(payload.futures).forEach(Output.line)
        if payload.total > payload.futures.count { Output.line("(\(payload.futures.count) of \(payload.total); --all for every one)") }
    }
}

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List the registered tasks and their parameters.")

    @OptionGroup var options: GlobalOptions

    func run() throws {
        let (payload, json) = try options.client.request(.list, as: ListPayload.self)
        if options.json { Output.line(json); return }
        Output.table(["NAME", "KIND", "PARAMETERS", "DESCRIPTION"], payload.tasks.map { task in
            let parameters = task.parameters.map { parameter in
                "\(parameter.name):\(parameter.type)" + (parameter.default.map { "=\($0.displayText)" } ?? "")
            }
            return [task.name, task.kind, parameters.isEmpty ? "-" : parameters.joined(separator: " "), task.description]
        }).forEach(Output.line)
    }
}
