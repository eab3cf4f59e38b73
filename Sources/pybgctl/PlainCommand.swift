/// `pybgctl submit NAME [ARG…]`, with at most `--socket PATH` and `--json` among its words, run
/// without ArgumentParser: the call scripts repeat in loops. Reflecting over the twelve commands'
/// declarations was 9 of the 11 million instructions such a call took, and kept its start-up at
/// 2.5× task-spooler's (BENCHMARKS.md).
///
/// Only command lines with no other word starting with "-" qualify. Any other option, `--`, `-h`,
/// `--help`, `--generate-completion-script`, a negative number, or `--socket` without a plain
/// value sends the whole line to ArgumentParser, so help, usage errors, completions and every
/// other option keep their one definition in the commands. `PlainSubmitTests` checks that each
/// line taken here parses the same there.
struct PlainSubmit: Equatable {
    let name: String
    let arguments: [String]
    /// `--socket PATH` or `--socket=PATH`.
    let socket: String?
    /// `--json`.
    let json: Bool

    /// nil unless `words`, the command line after the program's name (global options already moved
    /// behind the subcommand by ``LeadingOptions``), is `submit NAME [ARG…]` with no word starting
    /// with "-" but `--socket PATH`, `--socket=PATH` and `--json`, each at most once.
    init?(_ words: some Collection<String>) {
        guard words.first == "submit" else { return nil }
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
        guard let name = operands.first else { return nil }
        self.name = name
        self.arguments = Array(operands.dropFirst())
        self.socket = socket
        self.json = json
    }

    /// What `SubmitCommand` does with the same line: submit, print the id (or the reply's JSON).
    func run() throws {
        let client = DaemonClient(socket: socket, json: json, replyTimeout: try ReplyTimeout.resolve(option: nil))
        try SubmitCommand.submit(name, arguments, wait: false, timeout: nil, client: client)
    }
}
