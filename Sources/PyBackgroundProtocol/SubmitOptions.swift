/// How a submission asks for more than "run this now": the words `key=value` between `SUBMIT` and
/// the task name. A task name never contains `=`, so an option can never be taken for the task or
/// its arguments, whatever parameters the task declares:
///
/// ```
/// SUBMIT in=10m backup /srv          run in ten minutes
/// SUBMIT at=2026-12-01T03:00+01:00 backup /srv
/// ```
///
/// The timing options are `in=SPAN` (``TimeSpan``) and `at=TIME` (``Timestamp``); the flow options
/// of the next steps (queue, priority, after, retries, unique) take the same form.
public struct SubmitOptions: Hashable, Sendable {
    /// When the task may start. Boxed, as `Request`'s large cases are: a request stays small.
    public indirect enum Timing: Hashable, Sendable {
        /// This long after the daemon accepts it.
        case after(Duration)
        /// At this time (a wall time without an offset is the daemon's local time).
        case at(Timestamp)
    }

    /// Nil: as soon as a worker is free.
    public var timing: Timing?

    public init(timing: Timing? = nil) {
        self.timing = timing
    }

    /// No option given.
    public var isEmpty: Bool { timing == nil }

    /// The option names, as error messages list them.
    public static let names = ["in", "at"]

    /// Takes the leading `key=value` words of a SUBMIT's arguments; returns the options and the
    /// words from the task name on. Throws `bad-request` for an unknown, repeated or malformed option.
    public static func take(from words: [String]) throws(ProtocolError) -> (options: SubmitOptions, rest: ArraySlice<String>) {
        // Most submissions have no option: no set, no copy.
        guard let first = words.first, first.utf8.contains(UInt8(ascii: "=")) else { return (SubmitOptions(), words[...]) }
        var options = SubmitOptions()
        var seen: Set<Substring> = []
        var index = 0
        while index < words.count, let equals = words[index].firstIndex(of: "=") {
            let word = words[index]
            let key = word[..<equals]
            let value = word[word.index(after: equals)...]
            guard names.contains(String(key)) else {
                throw ProtocolError(
                    .badRequest,
                    "unknown option \"\(key)\" before the task name; options: \(names.map { "\($0)=…" }.joined(separator: ", ")) (a task's own key=value arguments go after its name)"
                )
            }
            guard seen.insert(key).inserted else { throw ProtocolError(.badRequest, "option \(key)= is given twice") }
            switch key {
            case "in": options.timing = .after(try TimeSpan.parse(value))
            default: options.timing = .at(try Timestamp.parse(value))
            }
            index += 1
        }
        if seen.contains("in") && seen.contains("at") {
            throw ProtocolError(.badRequest, "in= and at= both say when to run: give one")
        }
        return (options, words[index...])
    }

    /// The options as the words that ``take(from:)`` reads back.
    public var words: [String] {
        switch timing {
        case nil: []
        case .after(let span): ["in=\(TimeSpan.format(span))"]
        case .at(let time): ["at=\(time)"]
        }
    }
}
