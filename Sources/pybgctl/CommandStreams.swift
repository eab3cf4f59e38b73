import PyBackgroundProtocol

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A command task's stdout and stderr as its result (or failure detail) carries them: the exact
/// bytes (`stdout_base64` when they are not UTF-8, else the text) and whether they were cut at the
/// task's `max_output_bytes`.
struct CommandStreams {
    let stdout: [UInt8]
    let stderr: [UInt8]
    let stdoutTruncated: Bool
    let stderrTruncated: Bool

    init(_ fields: [String: JSONValue]) {
        stdout = Self.bytes(fields, "stdout")
        stderr = Self.bytes(fields, "stderr")
        stdoutTruncated = fields["stdout_truncated"] == .bool(true)
        stderrTruncated = fields["stderr_truncated"] == .bool(true)
    }

    private static func bytes(_ fields: [String: JSONValue], _ name: String) -> [UInt8] {
        if case .string(let encoded)? = fields["\(name)_base64"], let data = Data(base64Encoded: encoded) {
            return Array(data)
        }
        if case .string(let text)? = fields[name] { return Array(text.utf8) }
        return []
    }

    /// Writes stdout to stdout and stderr to stderr, as the command wrote them (made visible on a
    /// terminal), then says on stderr which of them was cut short.
    func write(taskID: String) {
        Output.taskOutput(stdout, to: 1)
        Output.taskOutput(stderr, to: 2)
        for (name, bytes, truncated) in [("stdout", stdout, stdoutTruncated), ("stderr", stderr, stderrTruncated)] where truncated {
            Output.error("pybgctl: the \(name) of task \(taskID) was cut after its first \(bytes.count) bytes (the task's max_output_bytes)")
        }
    }
}
