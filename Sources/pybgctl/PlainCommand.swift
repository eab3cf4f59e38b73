/// The command lines scripts repeat in loops, run without ArgumentParser: `submit NAME [ARG…]`,
/// `status`, `list` and `wait ID`, with at most `--socket PATH` and `--json` among their words.
/// Reflecting over the commands' declarations was 9 of the 11 million instructions such a call
/// took, and kept its start-up at 2.5× task-spooler's (BENCHMARKS.md).
///
/// Only command lines with no other word starting with "-" qualify. Any other option, `--`, `-h`,
/// `--help`, `--generate-completion-script`, a negative number, or `--socket` without a plain
/// value sends the whole line to ArgumentParser, so help, usage errors, completions and every
/// other option keep their one definition in the commands. `PlainCommandTests` checks that each
/// line taken here parses the same there.
struct PlainCommand: Equatable {
    enum Action: Equatable {
        case submit(name: String, arguments: [String])
        case status
        case list
        case wait(id: String)
    }

    let action: Action
    /// `--socket PATH` or `--socket=PATH`.
    let socket: String?
    /// `--json`.
    let json: Bool

    /// nil unless `words`, the command line after the program's name (global options already moved
    /// behind the subcommand by ``LeadingOptions``), is `submit NAME [ARG…]`, `status`, `list` or
    /// `wait ID` with no word starting with "-" but `--socket PATH`, `--socket=PATH` and `--json`,
    /// each at most once.
    init?(_ words: some Collection<String>) {
        guard let command = words.first else { return nil }
        var operands: [String] = []
        var socket: String?
        var json = false
        var rest = words.dropFirst().makeIterator()
        while let word = rest.next() {
            if word == "--socket" {
                guard socket == nil, let value = rest.next(), !value.isEmpty, !value.hasPrefix("-") else { return nil }
                socket = value
            } else if word.hasPrefix("--socket=") {
                let value = String(word.dropFirst("--socket=".count))
                guard socket == nil, !value.isEmpty else { return nil }
                socket = value
            } else if word == "--json" {
                guard !json else { return nil }
                json = true
            } else if word.hasPrefix("-") {
                return nil
            } else {
                operands.append(word)
            }
        }
        switch command {
        case "submit":
            guard let name = operands.first else { return nil }
            action = .submit(name: name, arguments: Array(operands.dropFirst()))
        case "status" where operands.isEmpty:
            action = .status
        case "list" where operands.isEmpty:
            action = .list
        case "wait" where operands.count == 1:
            action = .wait(id: operands[0])
        default:
            return nil
        }
        self.socket = socket
        self.json = json
    }

    /// What the command does with the same line, every other option at its default.
    func run() throws {
        let client = DaemonClient(socket: socket, json: json, replyTimeout: try ReplyTimeout.resolve(option: nil))
        switch action {
        case .submit(let name, let arguments):
            try SubmitCommand.submit(name, arguments, wait: false, timeout: nil, client: client)
        case .status:
            try StatusCommand.show(limit: StatusCommand.defaultLimit, client: client)
        case .list:
            try ListCommand.show(client: client)
        case .wait(let id):
            try WaitCommand.waitAndReport(id: id, timeout: nil, client: client)
        }
    }
}
