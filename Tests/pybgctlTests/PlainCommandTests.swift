import Testing

@testable import pybgctl

/// `PlainSubmit` takes some command lines away from ArgumentParser; these must mean there exactly
/// what they mean to ArgumentParser, and everything else must still go to it.
@Suite("Plain submit")
struct PlainSubmitTests {
    @Test(
        "a line taken directly parses through ArgumentParser to the same submit, with every other option at its default",
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
    func takenLinesParseTheSame(words: [String]) throws {
        let plain = try #require(PlainSubmit(words))
        let parsed = try #require(try PybgctlCommand.parseAsRoot(words) as? SubmitCommand)
        #expect(plain.name == parsed.name)
        #expect(plain.arguments == parsed.arguments)
        #expect(plain.socket == parsed.options.socket)
        #expect(plain.json == parsed.options.json)
        #expect(parsed.wait == false && parsed.timeout == nil)
    }

    @Test(
        "a line with another option, --, a dash-led value, help, or another command goes to ArgumentParser",
        arguments: [
            [],
            ["submit"],
            ["status"],
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
        ])
    func otherLinesAreLeftToArgumentParser(words: [String]) {
        #expect(PlainSubmit(words) == nil)
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
