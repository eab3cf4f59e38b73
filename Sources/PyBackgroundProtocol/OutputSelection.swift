/// Which of a task's output streams a `LOG` or `FOLLOW` request asks for: `stream=stdout`,
/// `stream=stderr`, or both (`stream=all`, the default).
public enum OutputSelection: String, Hashable, Sendable {
    case stdout
    case stderr
    case all

    /// The streams selected, stdout first.
    public var streams: [StandardStream] {
        switch self {
        case .stdout: [.stdout]
        case .stderr: [.stderr]
        case .all: [.stdout, .stderr]
        }
    }

    /// Splits `stream=…` off a request's words; the other words are returned as they came.
    static func take(from words: [String], verb: String) throws(ProtocolError) -> (OutputSelection, [String]) {
        var selection = OutputSelection.all
        var rest: [String] = []
        var seen = false
        for word in words {
            guard word.lowercased().hasPrefix("stream=") else {
                rest.append(word)
                continue
            }
            let value = word.dropFirst("stream=".count).lowercased()
            guard !seen, let parsed = OutputSelection(rawValue: value) else {
                throw ProtocolError(
                    .badRequest, seen ? "\(verb) takes stream= once" : "\(verb): stream= takes stdout, stderr or all, got \"\(value)\"")
            }
            seen = true
            selection = parsed
        }
        return (selection, rest)
    }

    /// The word for a request line; nil for the default.
    var word: String? { self == .all ? nil : "stream=\(rawValue)" }
}
