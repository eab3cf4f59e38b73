import Testing

@testable import pybgctl

/// `PlainCommand` takes some command lines away from ArgumentParser; these must mean there exactly
/// what they mean to ArgumentParser, and everything else must still go to it.
@Suite("Plain commands")
struct PlainCommandTests {
    @Test(
        "a submit taken directly parses through ArgumentParser to the same submit, with every other option at its default",
        arguments: [
            ["submit", "noop"],
            ["submit", "now", "2"],
            ["submit", "echo", "message=hello world"],
            ["submit", "echo", "a", "b=c", "=", "x=", "é", "", " leading space"],
            ["submit", ""],
            ["submit", "submit"],
            ["submit", "help"],
            ["submit", "noop", "help"],
            ["submit", "noop", "version"],
            ["submit", "status", "latest"],
            ["submit", "--json", "noop"],
            ["submit", "noop", "--socket", "/tmp/s"],
            ["submit", "--socket", "/tmp/s", "noop", "1"],
            ["submit", "noop", "--socket=/tmp/s b", "x"],
            ["submit", "--socket", "/tmp/s", "--json", "now", "cost=0"],
            ["submit", "noop", "--socket", "submit"],
        ])
    func takenSubmitsParseTheSame(words: [String]) throws {
        let plain = try #require(PlainCommand(words))
        let parsed = try #require(try PybgctlCommand.parseAsRoot(words) as? SubmitCommand)
        #expect(plain.action == .submit(name: parsed.name, arguments: parsed.arguments))
        #expect(plain.socket == parsed.options.socket)
        #expect(plain.json == parsed.options.json)
        #expect(parsed.wait == false && parsed.timeout == nil)
    }

    @Test(
        "status, list and wait ID taken directly parse through ArgumentParser to the same command, every other option at its default",
        arguments: [
            ["status"],
            ["status", "--json"],
            ["status", "--socket", "/tmp/s"],
            ["status", "--socket=/tmp/s", "--json"],
            ["list"],
            ["list", "--json", "--socket", "/tmp/s"],
            ["wait", "3f2a"],
            ["wait", "--json", "3f2a9c"],
            ["wait", "3f2a", "--socket", "/tmp/s"],
            ["wait", "status"],
        ])
    func takenQueriesParseTheSame(words: [String]) throws {
        let plain = try #require(PlainCommand(words))
        let parsed = try PybgctlCommand.parseAsRoot(words)
        switch plain.action {
        case .status:
            let status = try #require(parsed as? StatusCommand)
            #expect(status.limit == StatusCommand.defaultLimit && status.reply.timeout == nil)
            #expect(plain.socket == status.options.socket && plain.json == status.options.json)
        case .list:
            let list = try #require(parsed as? ListCommand)
            #expect(list.reply.timeout == nil)
            #expect(plain.socket == list.options.socket && plain.json == list.options.json)
        case .wait(let id):
            let wait = try #require(parsed as? WaitCommand)
            #expect(wait.ids == [id] && !wait.all && wait.timeout == nil)
            #expect(plain.socket == wait.options.socket && plain.json == wait.options.json)
        case .submit:
            Issue.record("\(words) taken as a submit")
        }
    }

    @Test(
        "a line with another option, --, a dash-led value, help, or another command goes to ArgumentParser",
        arguments: [
            [],
            ["submit"],
            ["Submit", "noop"],
            ["help", "submit"],
            ["submit", "noop", "--wait"],
            ["submit", "noop", "--socket"],
            ["submit", "noop", "--socket", "-x"],
            ["submit", "noop", "--socket="],
            ["submit", "noop", "--socket", "a", "--socket", "b"],
            ["submit", "--json", "--json", "noop"],
            ["submit", "--socket", "/tmp/s"],
            ["submit", "noop", "--timeout", "1"],
            ["submit", "noop", "-h"],
            ["submit", "noop", "--help"],
            ["submit", "noop", "--version"],
            ["submit", "noop", "--"],
            ["submit", "now", "--", "-1"],
            ["submit", "now", "-1"],
            ["submit", "-"],
            ["submit", "noop", "--generate-completion-script", "bash"],
            ["--generate-completion-script", "bash"],
            ["status", "--limit", "3"],
            ["status", "--timeout", "1"],
            ["status", "extra"],
            ["status", "-h"],
            ["list", "noop"],
            ["list", "--help"],
            ["wait"],
            ["wait", "a", "b"],
            ["wait", "--all"],
            ["wait", "3f2a", "--timeout", "2"],
            ["wait", "-1"],
            ["Status"],
            ["tasks"],
            ["latest"],
        ])
    func otherLinesAreLeftToArgumentParser(words: [String]) {
        #expect(PlainCommand(words) == nil)
    }
}

/// Global options before the subcommand mean what they mean after it.
@Suite("Leading options")
struct LeadingOptionsTests {
    @Test(
        "options before the subcommand move behind it; anything else stays as it is",
        arguments: [
            (["--socket", "/run/x.sock", "status"], ["status", "--socket", "/run/x.sock"]),
            (["--json", "status"], ["status", "--json"]),
            (["--socket=/s", "--json", "wait", "abc"], ["wait", "--socket=/s", "--json", "abc"]),
            (["--timeout", "3", "status", "--limit", "2"], ["status", "--timeout", "3", "--limit", "2"]),
            (["--socket", "/s", "submit", "noop", "x"], ["submit", "--socket", "/s", "noop", "x"]),
            (["status", "--json"], ["status", "--json"]),
            (["--json"], ["--json"]),
            (["--socket", "/s", "--help"], ["--socket", "/s", "--help"]),
            (["--version"], ["--version"]),
            (["submit", "noop", "--", "--json"], ["submit", "noop", "--", "--json"]),
        ])
    func normalize(words: [String], expected: [String]) {
        #expect(LeadingOptions.normalize(words) == expected)
    }

    @Test(
        "a leading option parses to the subcommand's option",
        arguments: [
            ["--socket", "/run/x.sock", "status"],
            ["--json", "--socket", "/run/x.sock", "futures", "--all"],
            ["--socket=/run/x.sock", "cancel", "abc"],
        ])
    func leadingOptionsParse(words: [String]) throws {
        let command = try PybgctlCommand.parseAsRoot(LeadingOptions.normalize(words))
        let socket: String? =
            switch command {
            case let status as StatusCommand: status.options.socket
            case let futures as FuturesCommand: futures.options.socket
            case let cancel as CancelCommand: cancel.options.socket
            default: nil
            }
        #expect(socket == "/run/x.sock")
    }

    @Test(
        "words after -- go to the daemon after a -- of their own",
        arguments: [
            (["a"], ["submit", "echo", "a"], ["a"]),
            (["mesage=hi"], ["submit", "echo", "--", "mesage=hi"], ["--", "mesage=hi"]),
            (["a", "-n", "x=y"], ["submit", "echo", "a", "--", "-n", "x=y"], ["a", "--", "-n", "x=y"]),
            (["x", "y"], ["submit", "--wait", "echo", "x", "--", "y"], ["x", "--", "y"]),
            ([], ["submit", "echo", "--"], []),
        ] as [([String], [String], [String])])
    func literalWords(arguments: [String], commandLine: [String], expected: [String]) {
        #expect(SubmitCommand.requestWords(arguments, commandLine: commandLine) == expected)
    }
}
