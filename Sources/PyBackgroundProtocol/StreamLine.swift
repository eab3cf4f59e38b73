/// A line of a streaming reply (`LOG`, `FOLLOW`, `EVENTS`): after the request's `OK` line, lines
/// `OUT <json>`, `ENDED <json>`, `EVENT <json>`, and `END <json>`, which closes the stream (the
/// connection then takes requests again).
///
/// ```swift
/// StreamLine.event(#"{"event":"started",…}"#).line      // EVENT {"event":"started",…}
/// try StreamLine(parsing: "END {}")                    // .end("{}")
/// ```
public enum StreamLine: Hashable, Sendable {
    /// A piece of a task's output: ``OutputChunkPayload``.
    case output(String)
    /// A followed task ended: its future (``FuturePayload``).
    case ended(String)
    /// A state change: ``TaskEventPayload``.
    case event(String)
    /// The stream is over: `{}`, or `{"reason":"shutdown"}` when the daemon stops.
    case end(String)

    /// Parses one stream line (without its line feed). An `ERR` line is a ``ProtocolError`` with its code.
    public init(parsing line: Substring) throws(ProtocolError) {
        var line = line
        if line.hasSuffix("\r") { line = line.dropLast() }
        let word = line.prefix { $0 != " " }
        let json = line.count > word.count ? String(line.dropFirst(word.count + 1)) : "{}"
        switch word {
        case "OUT": self = .output(json)
        case "ENDED": self = .ended(json)
        case "EVENT": self = .event(json)
        case "END": self = .end(json)
        case "ERR":
            if case .error(let code, let message) = try Response(parsing: line) { throw ProtocolError(code, message) }
            throw ProtocolError(.badRequest, "not a stream line: \"\(line.prefix(80))\"")
        default:
            throw ProtocolError(.badRequest, "not a stream line (expected OUT, ENDED, EVENT or END): \"\(line.prefix(80))\"")
        }
    }

    /// The line, without its line feed.
    public var line: String {
        switch self {
        case .output(let json): "OUT \(json)"
        case .ended(let json): "ENDED \(json)"
        case .event(let json): "EVENT \(json)"
        case .end(let json): "END \(json)"
        }
    }
}
