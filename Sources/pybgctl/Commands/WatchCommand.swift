import ArgumentParser
import PyBackgroundClient
import PyBackgroundProtocol

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// `pybgctl watch`: the daemon's tasks as they change, from its event stream (no polling).
struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Show tasks as they change, live: a table on a terminal, one line per event otherwise.",
        discussion: """
            On a terminal: the counts and the most recent tasks, redrawn in place as events come (like \
            watch pueue status, without polling); Ctrl-C ends it. Piped: one line per event. --json: each \
            event as the daemon sends it (see PROTOCOL.md, EVENTS), one per line, for scripts. A reader \
            that falls behind gets a "lagged" event with the count of events it missed; the table then \
            reads the tables again.
            """)

    @OptionGroup var options: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("Only tasks of these names (comma-separated).", valueName: "names"))
    var task: String?

    @Option(name: .long, help: ArgumentHelp("Only tasks of these queues (comma-separated).", valueName: "names"))
    var queue: String?

    @Option(
        name: .long,
        help: ArgumentHelp("Only these events: submitted, scheduled, started, retrying, finished, failed, cancelled, interrupted.", valueName: "kinds"))
    var event: String?

    func run() throws {
        let client = try options.client()
        var words: [String] = []
        if let task { words.append("task=\(task)") }
        if let queue { words.append("queue=\(queue)") }
        if let event { words.append("event=\(event)") }
        let filter: EventFilter
        do {
            filter = try EventFilter(words: words)
        } catch {
            throw ValidationError(error.message)
        }
        let request = Request.events(filter)
        let terminal = !client.json && isatty(1) != 0
        var table = terminal ? try WatchTable.load(client) : nil
        let (connection, _) = try client.openStream(request)
        if terminal {
            // Redrawn at least twice a second, so that running times move without events.
            connection.setReadTimeout(seconds: 0.5)
            table?.draw()
        }
        while true {
            let text: String?
            do {
                text = try connection.readLine()
            } catch let error where error.code == .timedOut {
                table?.draw()
                continue
            } catch {
                throw client.fail(ExitStatus(error.code), error.message, code: error.code.rawValue)
            }
            guard let text else { break }
            let line: StreamLine
            do {
                line = try StreamLine(parsing: text[...])
            } catch {
                throw client.fail(ExitStatus(error.code), error.message, code: error.code.rawValue)
            }
            switch line {
            case .event(let json):
                if client.json {
                    Output.json(json)
                    continue
                }
                let event = try client.decode(TaskEventPayload.self, from: json, replyingTo: request)
                if var current = table {
                    if event.event == .lagged {
                        current = try WatchTable.load(client)
                    } else {
                        current.apply(event)
                    }
                    table = current
                    current.drawIfDue()
                } else {
                    Output.line(Self.line(event))
                }
            case .end(let json):
                if client.json { Output.json(json) }
                table?.draw()
                return
            case .output, .ended:
                continue
            }
        }
        throw client.fail(.notRunning, "the daemon closed the event stream", code: "disconnected")
    }

    /// `12:00:01  started   3f2a1b2  backup  default  attempt 2`
    static func line(_ event: TaskEventPayload) -> String {
        let time = Clock.local(event.at).suffix(8)
        let kind = event.event.rawValue + String(repeating: " ", count: max(1, 11 - event.event.rawValue.count))
        if event.event == .lagged { return "\(time)  \(kind)missed \(event.missed ?? 0) events" }
        var text = "\(time)  \(kind)\(event.id.map { String($0.prefix(8)) } ?? "-")  \(event.task ?? "-")  \(event.queue ?? "default")"
        if let attempt = event.attempt { text += "  attempt \(attempt)" }
        if let error = event.error { text += "  \(error)" }
        if let duration = event.durationSeconds { text += "  \(Output.duration(duration))" }
        return text
    }
}
