#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import PyBackgroundProtocol

/// Rendering for people: aligned tables, short ids, durations, one-line values.
enum Output {
    static func line(_ text: String) {
        var bytes = Array(text.utf8)
        bytes.append(UInt8(ascii: "\n"))
        writeAll(1, bytes)
    }

    static func raw(_ text: String, to descriptor: Int32 = 1) {
        writeAll(descriptor, Array(text.utf8))
    }

    static func error(_ text: String) {
        var bytes = Array(text.utf8)
        bytes.append(UInt8(ascii: "\n"))
        writeAll(2, bytes)
    }

    private static func writeAll(_ descriptor: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
    }

    /// The terminal's width when stdout is one; nil when piped (then nothing is cut).
    static var terminalWidth: Int? {
        guard isatty(1) != 0 else { return nil }
        var size = winsize()
        guard ioctl(1, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }

    /// Columns aligned with two spaces between them; the last column is cut to fit the terminal.
    static func table(_ header: [String], _ rows: [[String]]) -> [String] {
        let all = [header] + rows
        var widths = header.map { $0.count }
        for row in all { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
        let width = terminalWidth
        return all.map { row in
            var line = ""
            for (index, cell) in row.enumerated() {
                if index == row.count - 1 {
                    line += cell
                } else {
                    line += cell + String(repeating: " ", count: widths[index] - cell.count + 2)
                }
            }
            if let width, line.count > width { line = String(line.prefix(max(1, width - 1))) + "…" }
            return line.trimmingTrailingSpaces
        }
    }

    /// The shortest prefix of each id, seven digits at least, that tells it apart from the others
    /// listed (as git shortens hashes).
    static func shortIDs(_ ids: [String]) -> [String: String] {
        var length = 7
        while length < 32 {
            let prefixes = ids.map { $0.prefix(length) }
            if Set(prefixes).count == Set(ids).count { break }
            length += 1
        }
        return Dictionary(ids.map { ($0, String($0.prefix(length))) }, uniquingKeysWith: { first, _ in first })
    }

    /// `850ms`, `2.05s`, `3m04s`, `2h03m`, `4d07h`.
    static func duration(_ seconds: Double?) -> String {
        guard let seconds, seconds.isFinite, seconds >= 0 else { return "-" }
        if seconds < 1 { return "\(Int((seconds * 1000).rounded()))ms" }
        if seconds < 60 {
            let hundredths = Int((seconds * 100).rounded())
            return "\(hundredths / 100).\(twoDigits(hundredths % 100))s"
        }
        let whole = Int(seconds)
        if whole < 3600 { return "\(whole / 60)m\(twoDigits(whole % 60))s" }
        if whole < 86_400 { return "\(whole / 3600)h\(twoDigits(whole / 60 % 60))m" }
        return "\(whole / 86_400)d\(twoDigits(whole / 3600 % 24))h"
    }

    private static func twoDigits(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }

    /// `a, b, key=value` as the task was submitted.
    static func arguments(_ args: [JSONValue], _ kwargs: [String: JSONValue]) -> String {
        let words = args.map(word) + kwargs.sorted { $0.key < $1.key }.map { "\($0.key)=\(word($0.value))" }
        return words.isEmpty ? "-" : words.joined(separator: " ")
    }

    private static func word(_ value: JSONValue) -> String {
        LineTokenizer.quoteIfNeeded(value.displayText)
    }

    /// A result or error on one line.
    static func outcome(_ future: FuturePayload) -> String {
        if let error = future.error { return oneLine("\(error.code): \(error.message)") }
        guard let result = future.result else { return "" }
        if case .object(let fields) = result, let stdout = fields["stdout"] {
            return oneLine(stdout.displayText.trimmingTrailingNewlines)
        }
        return oneLine(result.displayText)
    }

    static func oneLine(_ text: String) -> String {
        String(text.map { $0 == "\n" || $0 == "\r" || $0 == "\t" ? " " : $0 })
    }

    static func futureRows(_ futures: [FuturePayload]) -> [String] {
        let short = shortIDs(futures.map(\.id))
        return table(["ID", "NAME", "ARGS", "STATE", "DURATION", "RESULT"], futures.map { future in
            [short[future.id] ?? future.id, future.name, arguments(future.args, future.kwargs), future.state,
             duration(future.durationSeconds), outcome(future)]
        })
    }
}

extension String {
    var trimmingTrailingSpaces: String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }

    var trimmingTrailingNewlines: String {
        var text = self
        while text.last == "\n" || text.last == "\r" { text.removeLast() }
        return text
    }
}
