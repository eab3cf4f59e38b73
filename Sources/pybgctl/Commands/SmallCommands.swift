import ArgumentParser
import PyBackgroundProtocol

#if canImport(Glibc)
import Glibc
#endif

struct LatestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "latest", abstract: "Print the most recent task id (exit 5 if no task has been submitted yet).")

    @OptionGroup var options: GlobalOptions
    @OptionGroup var reply: ReplyTimeoutOption

    func run() throws {
        let client = try options.client(replyTimeout: reply.timeout)
        let (payload, json) = try client.request(.latest, as: LatestPayload.self)
        if options.json { Output.json(json) }
        guard let id = payload.latestID else {
            // Exit 5 with --json too (its reply, latest_id null, is printed): scripts test the status.
            if options.json { throw Failure(status: .unknownID, message: "no task has been submitted yet") }
            throw client.fail(.unknownID, "no task has been submitted yet", code: ErrorCode.unknownID.rawValue)
        }
        if !options.json { Output.line(id) }
    }
}

struct CancelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel", abstract: "Cancel a task that has not started: scheduled, waiting, pending or retrying (exit 6 if it runs or ended).")

    @OptionGroup var options: GlobalOptions
    @OptionGroup var reply: ReplyTimeoutOption

    @Argument(help: "The task id, or a unique prefix of it.")
    var id: String

    func run() throws {
        let (future, json) = try options.client(replyTimeout: reply.timeout).request(.cancel(id: id), as: FuturePayload.self)
        if options.json { Output.json(json) } else { Output.line("cancelled \(future.id) (\(future.name))") }
    }
}

struct PingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ping", abstract: "Check that the daemon answers.")

    @OptionGroup var options: GlobalOptions
    @OptionGroup var reply: ReplyTimeoutOption

    func run() throws {
        let client = try options.client(replyTimeout: reply.timeout)
        var start = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        let (payload, json) = try client.request(.ping, as: PingPayload.self)
        var end = timespec()
        clock_gettime(CLOCK_MONOTONIC, &end)
        let seconds = Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9
        if options.json {
            Output.json(json)
            return
        }
        Output.line("pong from pybgd \(payload.version) (pid \(payload.pid)) in \(Output.duration(seconds)) on \(client.socketPath)")
    }
}

struct ShutdownCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shutdown",
        abstract: "Stop the daemon gracefully: no new tasks, running ones finish (within its shutdown timeout).",
        discussion: """
            Waits until every task has ended (for as long as the daemon's shutdown.timeout_seconds lets \
            them run), unless --no-wait; then the reply comes within $PYBGCTL_TIMEOUT (default 5) seconds.
            """)

    @OptionGroup var options: GlobalOptions

    @Flag(name: .customLong("no-wait"), help: "Return at once instead of waiting for the tasks to end.")
    var noWait = false

    func run() throws {
        let (payload, json) = try options.client().request(.shutdown(wait: !noWait), as: ShutdownPayload.self)
        if options.json {
            Output.json(json)
            return
        }
        Output.line(
            payload.waited
                ? "pybgd stopped its tasks and is exiting"
                : "pybgd is shutting down (\(payload.running) running, \(payload.pending) pending)")
    }
}

struct CleanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clean",
        abstract: "Remove ended tasks (finished, failed, cancelled, interrupted) from the tables and the state store.",
        discussion: """
            Without ids, every ended task (or those older than --older-than); with ids, those tasks \
            only (exit 6, removing none, if one has not ended). Pending and running tasks stay. When \
            the state store cannot write (a full disk) nothing is removed, from the store or the \
            tables, and it exits 74.
              pybgctl clean                 every ended task
              pybgctl clean --older-than 7d
              pybgctl clean 3f2a 77c1       these two
            """)

    @OptionGroup var options: GlobalOptions
    @OptionGroup var reply: ReplyTimeoutOption

    @Option(
        name: .customLong("older-than"), parsing: .unconditional,
        help: ArgumentHelp(
            "Only tasks that ended longer ago than this: seconds, or a number with s, m, h or d (90m, 7d).", valueName: "age"))
    var olderThan: String?

    @Argument(help: "Ended tasks to remove, by id or unique prefix (none: every ended task).")
    var ids: [String] = []

    func validate() throws {
        if let olderThan, Self.seconds(olderThan) == nil {
            throw ValidationError("--older-than takes an age like 3600, 90m, 12h or 7d, got \"\(olderThan)\"")
        }
        if olderThan != nil && !ids.isEmpty { throw ValidationError("give ids or --older-than, not both") }
    }

    func run() throws {
        let client = try options.client(replyTimeout: reply.timeout)
        if !ids.isEmpty {
            let (payload, json) = try client.request(.remove(ids: ids), as: RemovePayload.self)
            if options.json { Output.json(json) } else { for id in payload.removed { Output.line("removed \(id)") } }
            return
        }
        let (payload, json) = try client.request(.clean(olderThan: olderThan.flatMap(Self.seconds)), as: CleanPayload.self)
        if options.json {
            Output.json(json)
            return
        }
        Output.line("removed \(payload.removed) ended task\(payload.removed == 1 ? "" : "s")")
    }

    /// `3600`, `90m`, `12h`, `7d` → seconds; nil for anything else.
    static func seconds(_ text: String) -> Double? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        var number = Substring(text)
        var unit = 1.0
        if let last = text.last, let factor = units[last] {
            number = number.dropLast()
            unit = factor
        }
        guard let value = Double(number), value.isFinite, value >= 0 else { return nil }
        return value * unit
    }
}
