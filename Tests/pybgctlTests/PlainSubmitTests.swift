import Testing
@testable import pybgctl

/// `PlainSubmit` takes some command lines away from ArgumentParser; these must mean there exactly
/// what they mean to ArgumentParser, and everything else must still go to it.
@Suite("Plain submit")
struct PlainSubmitTests {
    @Test("a line taken directly parses through ArgumentParser to the same submit, with every option at its default", arguments: [
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
    ])
    func takenLinesParseTheSame(words: [String]) throws {
        let plain = try #require(PlainSubmit(words))
        let parsed = try #require(try PybgctlCommand.parseAsRoot(words) as? SubmitCommand)
        #expect(plain.name == parsed.name)
        #expect(plain.arguments == parsed.arguments)
        #expect(parsed.wait == false && parsed.timeout == nil)
        #expect(parsed.options.socket == nil && parsed.options.json == false)
    }

    @Test("a line with an option, --, a dash-led value, help, or another command goes to ArgumentParser", arguments: [
        [],
        ["submit"],
        ["status"],
        ["Submit", "noop"],
        ["help", "submit"],
        ["submit", "noop", "--wait"],
        ["submit", "--json", "noop"],
        ["submit", "noop", "--socket", "/tmp/s"],
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
