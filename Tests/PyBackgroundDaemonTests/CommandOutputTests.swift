import PyBackgroundProtocol
import PyBackgroundTesting
import Testing

@testable import PyBackgroundDaemon

@Suite("Command output")
struct CommandOutputTests {
    @Test(
        "a cut that splits a UTF-8 character drops the partial character; whole characters stay",
        arguments: [
            (Array("abc".utf8), Array("abc".utf8)),
            (Array("ab".utf8) + [0xC3], Array("ab".utf8)),
            (Array("a".utf8) + [0xE2, 0x82], Array("a".utf8)),
            (Array("a".utf8) + [0xF0, 0x9F, 0x92], Array("a".utf8)),
            (Array("a€".utf8), Array("a€".utf8)),
            (Array("a💡".utf8), Array("a💡".utf8)),
            ([0x80, 0x80, 0x80, 0x80], [0x80, 0x80, 0x80, 0x80]),
            ([], []),
        ] as [([UInt8], [UInt8])])
    func cutAtCharacterBoundary(kept: [UInt8], expected: [UInt8]) {
        var output = CommandOutput(bytes: kept, truncated: true)
        output.dropIncompleteCharacter()
        #expect(output.bytes == expected)
    }

    @Test("output that is not UTF-8 gets its exact bytes in NAME_base64; UTF-8 output does not")
    func base64OnlyWhenNeeded() {
        var fields: [String: JSONValue] = [:]
        CommandOutput(bytes: Array("caf".utf8) + [0xE9], truncated: false).addFields(named: "stdout", to: &fields)
        CommandOutput(bytes: Array("fine".utf8), truncated: true).addFields(named: "stderr", to: &fields)
        #expect(fields["stdout"] == .string("caf\u{FFFD}"))
        #expect(fields["stdout_base64"] == .string("Y2Fm6Q=="))
        #expect(fields["stderr"] == .string("fine") && fields["stderr_base64"] == nil && fields["stderr_truncated"] == .bool(true))
    }

    @Test(
        "only pybgd-exec's own one-line report counts as a spawn failure",
        arguments: [
            ("pybgd-exec: cannot run \"x\": No such file or directory\n", "\"x\": No such file or directory"),
            ("pybgd-exec: cannot run \"x\": No such file\nmore\n", nil),
            ("command's own text\n", nil),
            ("pybgd-exec: cannot run \"x\"", nil),
        ] as [(String, String?)])
    func spawnFailure(stderr: String, reason: String?) {
        #expect(CommandExecHelper.spawnFailure(inStandardError: Array(stderr.utf8)) == reason)
    }
}
