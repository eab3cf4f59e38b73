/// Splits a request line into words and writes words back into a line.
///
/// Words are separated by spaces or tabs. A word holding spaces, quotes, backslashes or control
/// characters (or an empty word) is written in double quotes, inside which `\"`, `\\`, `\n`, `\r`
/// and `\t` stand for themselves. Outside quotes a backslash is an ordinary character, so Unix paths
/// and `key=value` words need no quoting when typed by hand.
public enum LineTokenizer {
    /// The words of `line`; throws `bad-request` for an unterminated quote, an unknown escape, or
    /// a NUL byte (no argument could carry one: a command's argv would be cut short at it).
    public static func split(_ line: Substring) throws(ProtocolError) -> [String] {
        // One pass for both: a NUL is refused, and most lines have no quotes (split directly).
        var hasNUL = false
        var hasQuote = false
        var line = line
        line.withUTF8 { bytes in
            for byte in bytes {
                if byte == 0 { hasNUL = true } else if byte == UInt8(ascii: "\"") { hasQuote = true }
            }
        }
        if hasNUL {
            throw ProtocolError(.badRequest, "the request holds a NUL byte (0x00), which no word may contain")
        }
        if !hasQuote {
            return line.utf8.split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") })
                .map { String(Substring($0)) }
        }
        var words: [String] = []
        var current = ""
        var inWord = false
        var iterator = line.unicodeScalars.makeIterator()
        while let scalar = iterator.next() {
            switch scalar {
            case " ", "\t":
                if inWord {
                    words.append(current)
                    current = ""
                    inWord = false
                }
            case "\"":
                inWord = true
                var closed = false
                while let next = iterator.next() {
                    if next == "\"" {
                        closed = true
                        break
                    }
                    if next == "\\" {
                        guard let escaped = iterator.next() else { break }
                        switch escaped {
                        case "\"": current.unicodeScalars.append("\"")
                        case "\\": current.unicodeScalars.append("\\")
                        case "n": current.unicodeScalars.append("\n")
                        case "r": current.unicodeScalars.append("\r")
                        case "t": current.unicodeScalars.append("\t")
                        default:
                            throw ProtocolError(
                                .badRequest,
                                "unknown escape \\\(escaped) in a quoted word (allowed: \\\" \\\\ \\n \\r \\t)")
                        }
                    } else {
                        current.unicodeScalars.append(next)
                    }
                }
                guard closed else { throw ProtocolError(.badRequest, "a quoted word is not closed (missing \")") }
            default:
                inWord = true
                current.unicodeScalars.append(scalar)
            }
        }
        if inWord { words.append(current) }
        return words
    }

    /// `words` joined into one line that ``split(_:)`` turns back into the same words.
    public static func join(_ words: [String]) -> String {
        words.map(quoteIfNeeded).joined(separator: " ")
    }

    /// The word as typed: bare when it can be, else in double quotes with escapes.
    public static func quoteIfNeeded(_ word: String) -> String {
        let needsQuotes =
            word.isEmpty
            || word.unicodeScalars.contains { scalar in
                scalar == " " || scalar == "\t" || scalar == "\"" || scalar == "\\" || scalar.value < 0x20 || scalar.value == 0x7F
            }
        guard needsQuotes else { return word }
        var quoted = "\""
        for scalar in word.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case "\n": quoted += "\\n"
            case "\r": quoted += "\\r"
            case "\t": quoted += "\\t"
            default: quoted.unicodeScalars.append(scalar)
            }
        }
        return quoted + "\""
    }
}
