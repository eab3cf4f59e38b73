import ArgumentParser
import PyBackgroundProtocol

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

struct WaitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait",
        abstract: "Wait for tasks to end; with one id print its result. Exit 0 only if every one finished.",
        discussion: """
            With one id: the task's output as it printed it (stdout to stdout, stderr to stderr), then, \
            if it did not finish, the reason on stderr and exit 1. With several ids, or --all (every task \
            not yet ended, as tsp -w and pueue wait), one line per task as it ends: ID NAME STATE and, for a \
            failure, its reason; exit 1 if any did not finish. --timeout bounds the whole wait (exit 2).
            """)

    @OptionGroup var options: GlobalOptions

    @Argument(help: "Task ids, or unique prefixes of them.")
    var ids: [String] = []

    @Flag(name: .long, help: "Every task that is pending or running now.")
    var all = false

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Give up after this many seconds (exit 2).", valueName: "seconds"))
    var timeout: Double?

    func validate() throws {
        if let timeout, !(timeout >= 0 && timeout.isFinite) { throw ValidationError("--timeout must be a number of seconds ≥ 0, got \(timeout)") }
        if all && !ids.isEmpty { throw ValidationError("give ids or --all, not both") }
        if !all && ids.isEmpty { throw ValidationError("give the id of a task to wait for (or several, or --all)") }
    }

    func run() throws {
        let client = try options.client()
        if ids.count == 1 && !all {
            try Self.waitAndReport(id: ids[0], timeout: timeout, client: client)
            return
        }
        var waited = ids
        if all {
            let (table, _) = try client.request(.futures(limit: .all), as: FuturesPayload.self)
            waited = table.futures.filter { ["scheduled", "pending", "running"].contains($0.state) }.map(\.id)
        }
        try Self.waitForEach(waited, timeout: timeout, client: client)
    }

    /// Waits, then prints the result the way the task would have: a command's stdout and stderr
    /// as they were, any other value as text.
    static func waitAndReport(id: String, timeout: Double?, client: DaemonClient) throws {
        let request = Request.wait(id: id, timeout: timeout)
        let json = try client.request(request)
        try report(FutureOutcome(reply: json, to: request, client: client), json: json, asJSON: client.json)
    }

    /// Waits for every task in turn on one connection, the whole wait bounded by `timeout`; a line
    /// per task (a JSON line with `--json`) as each ends.
    static func waitForEach(_ ids: [String], timeout: Double?, client: DaemonClient) throws {
        let deadline = timeout.map { Date().addingTimeInterval($0) }
        let connection = try client.connect()
        var failed = 0
        var futures: [FuturePayload] = []
        for (index, id) in ids.enumerated() {
            let left = deadline.map { max(0, $0.timeIntervalSinceNow) }
            let request = Request.wait(id: id, timeout: left)
            let json: String
            switch try client.reply(to: request, on: connection) {
            case .ok(let text):
                json = text
            case .error(.timedOut, _):
                throw client.fail(
                    .timedOut, "\(ids.count - index) of \(ids.count) tasks had not ended after \(timeout ?? 0) s",
                    code: ErrorCode.timedOut.rawValue)
            case .error(let code, let message):
                throw client.fail(ExitStatus(code), message, code: code.rawValue)
            }
            let future = try client.decode(FuturePayload.self, from: json, replyingTo: request)
            futures.append(future)
            if future.state != "finished" { failed += 1 }
            if client.json {
                Output.json(json)
            } else {
                let short = Output.shortIDs(futures.map(\.id))[future.id] ?? future.id
                let reason = future.error.map { ": " + VisibleText.cell(Output.failure($0, state: future.state), width: Output.resultWidth) } ?? ""
                Output.line("\(short)  \(future.name)  \(future.state)\(reason)")
            }
        }
        if failed > 0 {
            throw Failure(status: .taskFailed, message: "\(failed) of \(ids.count) tasks did not finish")
        }
    }

    /// Prints a future for people: its output (a command's stdout and stderr as they were, on
    /// the streams they came from, whether it finished or failed), a truncation notice, and for a
    /// task that did not finish its reason on stderr (exit 1).
    static func report(_ future: FutureOutcome, json: String, asJSON: Bool) throws {
        if asJSON {
            Output.json(json)
        } else {
            let fields: [String: JSONValue]?
            switch (future.result, future.error?.detail) {
            case (.object(let object)?, _) where object["stdout"] != nil: fields = object
            case (_, .object(let object)?) where object["stdout"] != nil: fields = object
            default: fields = nil
            }
            if let fields {
                CommandStreams(fields).write(taskID: future.id)
            } else if let result = future.result, result != .null {
                Output.line(result.displayText)
            } else if future.error == nil, !["finished", "failed", "cancelled", "interrupted"].contains(future.state) {
                Output.line(future.state)
            }
        }
        if let error = future.error {
            if !asJSON { Output.error("pybgctl: task \(future.id) \(future.state): \(Output.failure(error, state: future.state))") }
            throw Failure(status: .taskFailed, message: error.message)
        }
    }
}
