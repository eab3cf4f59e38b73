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
        let request = Request.result(id: id)
        let json = try client.request(request)
        try WaitCommand.report(FutureOutcome(reply: json, to: request, client: client), json: json, asJSON: options.json)
    }
}
