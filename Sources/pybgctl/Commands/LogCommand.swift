import ArgumentParser
import PyBackgroundProtocol

/// `pybgctl log ID`: a task's output as pybgd keeps it.
struct LogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "Print a task's output (its stdout; --stderr: its stderr) on stdout, whole as pybgd keeps it.",
        discussion: """
            pybgd keeps each stream of a task up to output.max_bytes (10 MiB by default); of a longer one \
            it keeps the beginning and the end, and a line says how much of the middle was dropped. \
            --tail N prints the last N lines only. The task may still be running: what it wrote so far is \
            printed (pybgctl follow goes on until it ends). --json prints the daemon's OUT lines.
            """)

    @OptionGroup var options: GlobalOptions
    @OptionGroup var reply: ReplyTimeoutOption

    @Argument(help: "The task's id, or a unique prefix of it.")
    var id: String

    @Flag(name: .long, help: "Print its stderr instead of its stdout.")
    var stderr = false

    @Option(name: .long, help: ArgumentHelp("Print only the last N lines.", valueName: "N"))
    var tail: Int?

    func validate() throws {
        if let tail, tail < 0 { throw ValidationError("--tail takes a number of lines ≥ 0, got \(tail)") }
    }

    func run() throws {
        let client = try options.client(replyTimeout: reply.timeout)
        let (connection, _) = try client.openStream(.log(id: id, streams: stderr ? .stderr : .stdout))
        var text = OutputText()
        while let line = try client.nextStreamLine(on: connection) {
            switch line {
            case .output(let json):
                if client.json { Output.json(json) }
                let piece = try client.decode(OutputChunkPayload.self, from: json, replyingTo: .log(id: id, streams: .all))
                text.add(piece)
            case .end:
                // On stdout whichever stream it is: `pybgctl log ID --stderr | grep …`.
                if !client.json { Output.taskOutput(tail.map { text.lastLines($0) } ?? text.bytes, to: 1) }
                return
            case .ended, .event:
                continue
            }
        }
        throw client.fail(.protocolError, "the daemon closed the connection before the end of the output", code: "disconnected")
    }
}
