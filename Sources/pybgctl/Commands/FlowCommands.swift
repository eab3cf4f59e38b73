import ArgumentParser
import PyBackgroundProtocol

struct KillCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kill",
        abstract: "Stop a task: one not yet running is cancelled; a running one is asked to stop.",
        discussion: """
            A command task gets SIGTERM, then SIGKILL 2 s later; a built-in or library task is asked \
            to stop (its sleeps wake). Returns once the task has ended (cancelled, with who asked); \
            exits 8 if it still runs after the daemon's kill grace (it ignores the request), 6 if it \
            had already ended.
            """)

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The task id, or a unique prefix of it.")
    var id: String

    func run() throws {
        let (future, json) = try options.client().request(.kill(id: id), as: FuturePayload.self)
        if options.json { Output.json(json) } else { Output.line("killed \(future.id) (\(future.name)): \(future.state)") }
    }
}

struct RetryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Run an ended task again, as a new task (printed) that names the old one (retry_of).",
        discussion: """
            The new task has the old one's task, arguments, queue, priority, attempts, time limit and \
            unique key; the old one's history stays as it was. Exit 6 if the task has not ended.
            """)

    @OptionGroup var options: GlobalOptions
    @OptionGroup var reply: ReplyTimeoutOption

    @Argument(help: "The ended task's id, or a unique prefix of it.")
    var id: String

    func run() throws {
        let (submitted, json) = try options.client(replyTimeout: reply.timeout).request(.retry(id: id), as: SubmitPayload.self)
        if options.json {
            Output.json(json)
            return
        }
        if submitted.existing == true {
            Output.error("already submitted: task \(submitted.id) holds the unique key (\(submitted.state ?? "live")); no new task")
        }
        Output.line(submitted.id)
    }
}

struct QueuesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queues", abstract: "Show each queue: its limit, running and pending tasks, and whether it is paused.")

    @OptionGroup var options: GlobalOptions
    @OptionGroup var reply: ReplyTimeoutOption

    func run() throws {
        let (payload, json) = try options.client(replyTimeout: reply.timeout).request(.queues, as: QueuesPayload.self)
        if options.json {
            Output.json(json)
            return
        }
        QueuesCommand.table(payload.queues).forEach(Output.line)
    }

    /// PAUSE or RESUME: the reply's JSON, or one line saying what was `done`.
    static func send(_ request: Request, done: String, options: GlobalOptions, reply: ReplyTimeoutOption) throws {
        let (payload, json) = try options.client(replyTimeout: reply.timeout).request(request, as: QueuePayload.self)
        if options.json { Output.json(json) } else { Output.line("\(done) \(payload.name) (\(payload.running) running, \(payload.pending) pending)") }
    }

    /// The queues as a table for people.
    static func table(_ queues: [QueuePayload]) -> [String] {
        let header = ["QUEUE", "RUNNING", "LIMIT", "PENDING", "STATE"]
        let rows = queues.map { [$0.name, "\($0.running)", "\($0.maxRunning)", "\($0.pending)", $0.paused ? "paused" : "active"] }
        return Output.table(header, rows)
    }
}

struct PauseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause", abstract: "Pause a queue: none of its pending tasks starts until resume; running ones finish.")

    @OptionGroup var options: GlobalOptions
    @OptionGroup var reply: ReplyTimeoutOption

    @Argument(help: "The queue's name.")
    var queue: String

    func run() throws {
        try QueuesCommand.send(.pauseQueue(queue), done: "paused", options: options, reply: reply)
    }
}

struct ResumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Resume a paused queue.")

    @OptionGroup var options: GlobalOptions
    @OptionGroup var reply: ReplyTimeoutOption

    @Argument(help: "The queue's name.")
    var queue: String

    func run() throws {
        try QueuesCommand.send(.resumeQueue(queue), done: "resumed", options: options, reply: reply)
    }
}
