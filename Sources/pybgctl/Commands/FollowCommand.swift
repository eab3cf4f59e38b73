import ArgumentParser
import PyBackgroundProtocol

/// `pybgctl follow ID [ID…]`: tasks' output live, until they end.
struct FollowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "follow",
        abstract: "Print tasks' output as they write it, until they end. Exit status as wait.",
        discussion: """
            What a task wrote before comes first, then what it writes, stdout to stdout and stderr to \
            stderr. With several ids each line is prefixed by its task's short id. A task that has ended \
            prints its output and the command goes on with the others. Exit 0 if every task finished, \
            1 if one did not (its reason on stderr). --json prints the daemon's OUT and ENDED lines.
            """)

    @OptionGroup var options: GlobalOptions

    @Argument(help: "Task ids, or unique prefixes of them.")
    var ids: [String]

    @Flag(name: .long, help: "Only stdout.")
    var stdout = false

    @Flag(name: .long, help: "Only stderr.")
    var stderr = false

    func validate() throws {
        if ids.isEmpty { throw ValidationError("give the id of a task to follow (or several)") }
        if stdout && stderr { throw ValidationError("give --stdout or --stderr, not both (neither: both streams)") }
    }

    func run() throws {
        let client = try options.client()
        let selection: OutputSelection = stdout ? .stdout : stderr ? .stderr : .all
        let request = Request.follow(ids: ids, streams: selection)
        let (connection, json) = try client.openStream(request)
        let followed = try client.decode(FollowPayload.self, from: json, replyingTo: request).ids
        var lines = PrefixedLines(ids: followed)
        var ended: [FuturePayload] = []
        while let line = try client.nextStreamLine(on: connection) {
            switch line {
            case .output(let json):
                if client.json {
                    Output.json(json)
                    continue
                }
                let piece = try client.decode(OutputChunkPayload.self, from: json, replyingTo: request)
                lines.write(piece)
            case .ended(let json):
                if client.json { Output.json(json) }
                let future = try client.decode(FuturePayload.self, from: json, replyingTo: request)
                lines.finish(future.id)
                ended.append(future)
                if let error = future.error, !client.json {
                    Output.error("pybgctl: task \(lines.label(future.id)) \(future.state): \(Output.failure(error, state: future.state))")
                }
            case .end:
                let failed = ended.filter { $0.state != "finished" }
                if !failed.isEmpty {
                    throw Failure(status: .taskFailed, message: "\(failed.count) of \(ended.count) tasks did not finish")
                }
                return
            case .event:
                continue
            }
        }
        throw client.fail(.protocolError, "the daemon closed the connection before the tasks ended", code: "disconnected")
    }
}

/// Output of one or several tasks for a terminal or a pipe: one task's bytes as they come; several
/// tasks' whole lines, each prefixed by its task's short id (a line is held until its end).
struct PrefixedLines {
    private let short: [String: String]
    private let prefixed: Bool
    private var partial: [String: [UInt8]] = [:]

    init(ids: [String]) {
        short = Output.shortIDs(ids)
        prefixed = ids.count > 1
    }

    func label(_ id: String) -> String { short[id] ?? id }

    mutating func write(_ piece: OutputChunkPayload) {
        let descriptor: Int32 = piece.stream == .stdout ? 1 : 2
        var bytes = piece.bytes
        if let dropped = piece.dropped {
            let key = piece.id + piece.stream.rawValue
            bytes = OutputChunkPayload.droppedLine(dropped, endsLine: partial[key, default: []].isEmpty)
        }
        guard prefixed else {
            Output.taskOutput(bytes, to: descriptor)
            return
        }
        let key = piece.id + piece.stream.rawValue
        var pending = partial[key, default: []] + bytes
        var out: [UInt8] = []
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            out += Array("[\(label(piece.id))] ".utf8) + pending[...newline]
            pending.removeFirst(newline + 1)
        }
        partial[key] = pending
        if !out.isEmpty { Output.taskOutput(out, to: descriptor) }
    }

    /// The task ended: a last line without a line feed is written with one.
    mutating func finish(_ id: String) {
        guard prefixed else { return }
        for stream in StandardStream.allCases {
            let key = id + stream.rawValue
            guard let rest = partial.removeValue(forKey: key), !rest.isEmpty else { continue }
            Output.taskOutput(Array("[\(label(id))] ".utf8) + rest + [UInt8(ascii: "\n")], to: stream == .stdout ? 1 : 2)
        }
    }
}
