/// `pybgctl submit NAME [ARG…]` without any option, the call scripts repeat in loops, run without
/// ArgumentParser: reflecting over the twelve commands' declarations was 9 of the 11 million
/// instructions such a call took, and kept its start-up at 2.5× task-spooler's (BENCHMARKS.md).
///
/// Only command lines with no word starting with "-" qualify. An option, `--`, `-h`, `--help`,
/// `--generate-completion-script` or a negative number sends the whole line to ArgumentParser,
/// so help, usage errors, completions and every option keep their one definition in the
/// commands. `PlainSubmitTests` checks that each line taken here parses the same there.
struct PlainSubmit: Equatable {
    let name: String
    let arguments: [String]

    /// nil unless `words`, the command line after the program's name, is `submit NAME [ARG…]`
    /// with no word starting with "-".
    init?(_ words: some Collection<String>) {
        guard words.first == "submit", words.count >= 2, !words.contains(where: { $0.hasPrefix("-") }) else { return nil }
        let operands = words.dropFirst()
        name = operands.first!
        arguments = Array(operands.dropFirst())
    }

    /// What `SubmitCommand` does with the same line: submit, print the id.
    func run() throws {
        try SubmitCommand.submit(name, arguments, wait: false, timeout: nil, client: DaemonClient(socket: nil, json: false))
    }
}
