/// Global options given before the subcommand, as git, systemctl and pueue take them:
/// `pybgctl --socket /run/x.sock status` is `pybgctl status --socket /run/x.sock`.
///
/// ArgumentParser reads options only after the subcommand that declares them, so the leading ones
/// are moved behind the subcommand's name before parsing. Before a command that has a `--timeout`
/// of its own (`wait`, `submit --wait`), a leading `--timeout` is that one.
enum LeadingOptions {
    /// Options that take a value, and flags, that every command accepts.
    static let valued: Set<String> = ["--socket", "--timeout"]
    static let flags: Set<String> = ["--json"]
    /// Commands whose subcommands declare the options.
    static let nested: [String: Set<String>] = ["schedule": ["add", "list", "show", "pause", "resume", "remove"]]

    /// `words` (the command line after the program's name) with the global options before the
    /// subcommand moved right after it; unchanged when there are none, or no subcommand follows.
    static func normalize(_ words: [String]) -> [String] {
        var leading: [String] = []
        var index = 0
        while index < words.count {
            let word = words[index]
            if valued.contains(word), index + 1 < words.count {
                leading += [word, words[index + 1]]
                index += 2
            } else if flags.contains(word) || valued.contains(where: { word.hasPrefix($0 + "=") }) {
                leading.append(word)
                index += 1
            } else {
                break
            }
        }
        guard !leading.isEmpty, index < words.count, !words[index].hasPrefix("-") else { return words }
        // A command with subcommands of its own takes them behind its subcommand's name.
        let nameLength = index + 1 < words.count && nested[words[index]]?.contains(words[index + 1]) == true ? 2 : 1
        return Array(words[index..<(index + nameLength)]) + leading + words[(index + nameLength)...]
    }
}
