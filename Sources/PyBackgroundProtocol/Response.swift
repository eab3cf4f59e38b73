/// One reply line: `OK <json>` or `ERR <code> <message>`.
///
/// ```swift
/// Response.ok(#"{"id":"…"}"#).line           // OK {"id":"…"}
/// try Response(parsing: "ERR unknown-task no task \"x\"")   // .error(.unknownTask, "no task \"x\"")
/// ```
/// The JSON is kept as text: each verb's payload type (``StatusPayload``, ``FuturePayload``, …)
/// encodes and decodes it, so a reply is relayed without being decoded twice.
public enum Response: Hashable, Sendable {
    case ok(String)
    case error(ErrorCode, String)

    /// Parses a reply line (without its line feed).
    public init(parsing line: Substring) throws(ProtocolError) {
        var line = line
        if line.hasSuffix("\r") { line = line.dropLast() }
        if line == "OK" {
            self = .ok("{}")
        } else if line.hasPrefix("OK ") {
            self = .ok(String(line.dropFirst(3)))
        } else if line.hasPrefix("ERR ") {
            let rest = line.dropFirst(4)
            let code = rest.prefix { $0 != " " }
            guard !code.isEmpty else { throw ProtocolError(.badRequest, "ERR reply without a code: \"\(line)\"") }
            let afterCode = rest.dropFirst(code.count)
            self = .error(ErrorCode(String(code)), String(afterCode.first == " " ? afterCode.dropFirst() : afterCode))
        } else {
            throw ProtocolError(.badRequest, "not a reply line (expected OK or ERR): \"\(line.prefix(80))\"")
        }
    }

    /// Parses one reply line.
    public init(parsing line: String) throws(ProtocolError) {
        try self.init(parsing: line[...])
    }

    /// The reply as one line, without its line feed. Line breaks in a message are written as spaces,
    /// so one reply is always one line.
    public var line: String {
        switch self {
        case .ok(let json): "OK \(json)"
        case .error(let code, let message): "ERR \(code) \(Response.singleLine(message))"
        }
    }

    /// The ERR reply for a request that could not be parsed.
    public init(_ error: ProtocolError) {
        self = .error(error.code, error.message)
    }

    /// The message as one line of printable text: line breaks (LF, CRLF) become spaces, and other
    /// control characters, a lone CR among them (a client's words are quoted back in messages), are
    /// written as `\u{1B}`, so that a reply can neither split in two, nor hide part of itself, nor
    /// drive the terminal that shows it.
    static func singleLine(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var line = ""
        let scalars = Array(text.unicodeScalars)
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            if scalar == "\r" && index + 1 < scalars.count && scalars[index + 1] == "\n" {
                line += " "
                index += 2
                continue
            }
            if scalar == "\n" {
                line += " "
            } else if isControl(scalar) {
                line += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            } else {
                line.unicodeScalars.append(scalar)
            }
            index += 1
        }
        return line
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        (scalar.value < 0x20 && scalar != "\t") || (0x7F...0x9F).contains(scalar.value)
    }
}
