import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import PyBackgroundProtocol

struct LatestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "latest", abstract: "Print the most recent task id.")

    @OptionGroup var options: GlobalOptions

    func run() throws {
        let (payload, json) = try options.client.request(.latest, as: LatestPayload.self)
        if options.json { Output.line(json); return }
        guard let id = payload.latestID else {
            throw options.client.fail(.unknownID, "no task has been submitted yet", code: "unknown-id")
        }
        Output.line(id)
    }
}

struct CancelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Cancel a pending task (exit 6 if it already runs or ended).")

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The task id, or a unique prefix of it.")
    var id: String

    func run() throws {
        let (future, json) = try options.client.request(.cancel(id: id), as: FuturePayload.self)
        Output.line(options.json ? json : "cancelled \(future.id) (\(future.name))")
    }
}

struct PingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ping", abstract: "Check that the daemon answers.")

    @OptionGroup var options: GlobalOptions

    func run() throws {
        var start = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        let (payload, json) = try options.client.request(.ping, as: PingPayload.self)
        var end = timespec()
        clock_gettime(CLOCK_MONOTONIC, &end)
        let seconds = Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9
        Output.line(options.json ? json : "pong from pybgd \(payload.version) (pid \(payload.pid)) in \(Output.duration(seconds)) on \(options.client.socketPath)")
    }
}

struct ShutdownCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shutdown",
        abstract: "Stop the daemon gracefully: no new tasks, running ones finish (within its shutdown timeout).",
        discussion: "Waits until every task has ended, unless --no-wait.")

    @OptionGroup var options: GlobalOptions

    @Flag(name: .customLong("no-wait"), help: "Return at once instead of waiting for the tasks to end.")
    var noWait = false

    func run() throws {
        let (payload, json) = try options.client.request(.shutdown(wait: !noWait), as: ShutdownPayload.self)
        if options.json { Output.line(json); return }
        Output.line(payload.waited
            ? "pybgd stopped its tasks and is exiting"
            : "pybgd is shutting down (\(payload.running) running, \(payload.pending) pending)")
    }
}

struct CleanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clean",
        abstract: "Remove ended tasks (finished, failed, cancelled, interrupted) from the tables and the state store.",
        discussion: "Pending and running tasks stay. Prints how many were removed.")

    @OptionGroup var options: GlobalOptions

    @Option(name: .customLong("older-than"), help: ArgumentHelp(
        "Only tasks that ended longer ago than this: seconds, or a number with s, m, h or d (90m, 7d).", valueName: "age"))
    var olderThan: String?

    func validate() throws {
        if let olderThan, Self.seconds(olderThan) == nil {
            throw ValidationError("--older-than takes an age like 3600, 90m, 12h or 7d, got \"\(olderThan)\"")
        }
    }

    func run() throws {
        let (payload, json) = try options.client.request(.clean(olderThan: olderThan.flatMap(Self.seconds)), as: CleanPayload.self)
        Output.line(options.json ? json : "removed \(payload.removed) ended task\(payload.removed == 1 ? "" : "s")")
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
