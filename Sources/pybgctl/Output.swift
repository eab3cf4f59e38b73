import PyBackgroundProtocol

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Rendering for people: aligned tables, short ids, durations, one-line values. Every text a
/// person reads goes through ``VisibleText`` (a task's data must not drive the terminal); JSON for
/// scripts goes out exactly as the daemon sent it.
enum Output {
    /// A line for people; control characters in it are made visible.
    static func line(_ text: String) {
        write(VisibleText.escaped(text, keepingLineBreaks: true) + "\n", to: 1)
    }

    /// A screen for `watch`: the terminal's cursor home and clear, then `text` made visible.
    static func screen(_ text: String) {
        write("\u{1B}[H\u{1B}[J" + VisibleText.escaped(text, keepingLineBreaks: true) + "\n", to: 1)
    }

    /// A line of JSON for scripts, exactly as given.
    static func json(_ text: String) {
        write(text + "\n", to: 1)
    }

    /// A line on stderr for people; control characters in it are made visible.
    static func error(_ text: String) {
        write(VisibleText.escaped(text, keepingLineBreaks: true) + "\n", to: 2)
    }

    /// A line of JSON on stderr, exactly as given.
    static func errorJSON(_ text: String) {
        write(text + "\n", to: 2)
    }

    /// A task's own output: its bytes as they were when they go to a file or a pipe; made visible
    /// when they go to a terminal.
    static func taskOutput(_ bytes: [UInt8], to descriptor: Int32) {
        writeAll(descriptor, isatty(descriptor) != 0 ? VisibleText.terminalBytes(bytes) : bytes)
    }

    private static func write(_ text: String, to descriptor: Int32) {
        writeAll(descriptor, Array(text.utf8))
    }

    private static func writeAll(_ descriptor: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
    }

    /// The terminal's width when stdout is one; nil when piped (then lines keep their cells'
    /// fixed widths).
    static var terminalWidth: Int? {
        guard isatty(1) != 0 else { return nil }
        var size = winsize()
        guard ioctl(1, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }

    /// The most characters a cell of free text shows (the whole value is in `result`, `wait` and
    /// `--json`): a task's arguments, its result or error, a description.
    static let argumentsWidth = 40
    static let resultWidth = 80
    static let nameWidth = 32

    /// Columns aligned with two spaces between them; each cell already one bounded line
    /// (``VisibleText/cell(_:width:)``). On a terminal a line is cut to its width.
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
            if let width { line = VisibleText.cut(line, to: max(1, width)) }
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

    /// A time to come or gone, local, with how far from now: `2026-12-01 03:00:00 (in 4m10s)`.
    static func when(_ epochSeconds: Double, now: Double = Date().timeIntervalSince1970) -> String {
        let distance = epochSeconds - now
        let relative = distance >= 0 ? "in \(duration(distance))" : "\(duration(-distance)) ago"
        return "\(Clock.local(epochSeconds)) (\(relative))"
    }

    private static func twoDigits(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }

    /// `a b key=value` as the task was submitted, as one bounded cell.
    static func arguments(_ args: [JSONValue], _ kwargs: [String: JSONValue]) -> String {
        let words = args.map(word) + kwargs.sorted { $0.key < $1.key }.map { "\($0.key)=\(word($0.value))" }
        return words.isEmpty ? "-" : VisibleText.cell(words.joined(separator: " "), width: argumentsWidth)
    }

    private static func word(_ value: JSONValue) -> String {
        LineTokenizer.quoteIfNeeded(value.displayText)
    }

    /// A result or error as one bounded cell: a command's stdout, any other value as text, an
    /// error as its code and message (the message alone when the code only repeats the state).
    static func outcome(_ future: FuturePayload) -> String {
        VisibleText.cell(outcomeText(future), width: resultWidth)
    }

    private static func outcomeText(_ future: FuturePayload) -> String {
        if future.state == "scheduled", let runAt = future.runAt { return "runs \(when(runAt))" }
        if future.state == "waiting", let after = future.flow?.after { return "after \(after.map { String($0.prefix(7)) }.joined(separator: ", "))" }
        if future.state == "retrying", let retryAt = future.retryAt {
            let last = future.attempts?.last.map { ": \(failure($0.error, state: "failed"))" } ?? ""
            return "attempt \((future.attempt ?? 1) + 1) \(when(retryAt))\(last)"
        }
        if future.state == "running", let stop = future.stop {
            return "asked to stop \(when(stop.requestedAt)) (\(stop.reason)\(stop.by.map { " by \($0)" } ?? ""))"
        }
        if let error = future.error { return failure(error, state: future.state) }
        guard let result = future.result else { return "" }
        if case .object(let fields) = result, let stdout = fields["stdout"] {
            return stdout.displayText.trimmingTrailingNewlines
        }
        return result.displayText
    }

    /// `code: message`, or the message alone when the code is the state's own name (`cancelled`).
    static func failure(_ error: ErrorPayload, state: String) -> String {
        error.code == state ? error.message : "\(error.code): \(error.message)"
    }

    /// The futures as a table; a HOST column (the host that claimed each last) when they come
    /// from a store several hosts share.
    static func futureRows(_ futures: [FuturePayload]) -> [String] {
        let short = shortIDs(futures.map(\.id))
        let hosts = futures.contains { $0.host != nil }
        return table(
            ["ID", "NAME", "ARGS", "STATE"] + (hosts ? ["HOST"] : []) + ["DURATION", "RESULT"],
            futures.map { future in
                [
                    short[future.id] ?? future.id, VisibleText.cell(future.name, width: nameWidth), arguments(future.args, future.kwargs),
                    future.attempt.map { $0 > 1 ? "\(future.state) #\($0)" : future.state } ?? future.state,
                ] + (hosts ? [VisibleText.cell(future.host ?? "-", width: nameWidth)] : []) + [duration(future.durationSeconds), outcome(future)]
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
