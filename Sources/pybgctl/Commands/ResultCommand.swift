import ArgumentParser
import PyBackgroundProtocol

struct ResultCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "result",
        abstract: "Print a task's result now, without waiting (its state while it has none).")

    @OptionGroup var options: GlobalOptions
    @OptionGroup var reply: ReplyTimeoutOption

    @Argument(help: "The task id, or a unique prefix of it.")
    var id: String

    func run() throws {
        let client = try options.client(replyTimeout: reply.timeout)
        let (future, json) = try client.request(.result(id: id), as: FuturePayload.self)
        try WaitCommand.report(future, json: json, asJSON: options.json)
    }
}
