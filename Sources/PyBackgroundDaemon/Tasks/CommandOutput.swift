import PyBackgroundProtocol
import Subprocess

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What a command wrote to one stream, kept up to a limit; the rest is read and dropped, so a
/// chatty process never blocks on a full pipe.
///
/// In the task's result it is text when it is UTF-8 (`"stdout": "…"`). Output that is not UTF-8 is
/// kept exactly too: `stdout` then holds it with each invalid byte shown as U+FFFD, for reading,
/// and `stdout_base64` holds the bytes themselves, which `pybgctl wait` writes out as they were.
struct CommandOutput: Sendable, Hashable {
    var bytes: [UInt8] = []
    var truncated = false

    var text: String { String(decoding: bytes, as: UTF8.self) }

    /// The fields `NAME`, `NAME_truncated` and, when the bytes are not UTF-8, `NAME_base64`.
    func addFields(named name: String, to fields: inout [String: JSONValue]) {
        fields[name] = .string(text)
        fields["\(name)_truncated"] = .bool(truncated)
        if String(validating: bytes, as: UTF8.self) == nil {
            fields["\(name)_base64"] = .string(Data(bytes).base64EncodedString())
        }
    }

    /// Keeps the first `limit` bytes of `sequence`, reading it to its end; every byte also goes to
    /// `whole` (the task's kept output), as it comes.
    static func collect(
        _ sequence: SubprocessOutputSequence, limit: Int, whole: (UnsafeRawBufferPointer) -> Void = { _ in }
    ) async throws -> CommandOutput {
        var output = CommandOutput()
        for try await buffer in sequence {
            buffer.withUnsafeBytes { bytes in
                whole(bytes)
                let room = limit - output.bytes.count
                if room >= bytes.count {
                    output.bytes.append(contentsOf: bytes)
                } else {
                    if room > 0 { output.bytes.append(contentsOf: bytes.prefix(room)) }
                    output.truncated = true
                }
            }
        }
        if output.truncated { output.dropIncompleteCharacter() }
        return output
    }

    /// The cut may split a UTF-8 sequence: the partial character goes with the rest, so valid
    /// text stays valid when it is cut short.
    mutating func dropIncompleteCharacter() {
        bytes.removeLast(Self.incompleteCharacterLength(bytes))
    }

    /// How many bytes at the end of `bytes` begin a UTF-8 character they do not finish (0 to 3).
    static func incompleteCharacterLength(_ bytes: [UInt8]) -> Int {
        var start = bytes.count
        var continuation = 0
        while start > 0 && continuation < 3 && bytes[start - 1] & 0xC0 == 0x80 {
            start -= 1
            continuation += 1
        }
        guard start > 0 else { return 0 }
        let lead = bytes[start - 1]
        let length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
        return length > 1 && continuation + 1 < length ? continuation + 1 : 0
    }
}
