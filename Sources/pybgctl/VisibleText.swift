/// Text that came from a task or a client, made visible rather than executed before it reaches a
/// terminal: control characters (C0, DEL, C1) and the Unicode controls that reorder or hide text
/// (bidirectional overrides and isolates) are written as `\u{1B}`, the notation pybgd's own ERR
/// messages use. So `pybgctl status` cannot be made to set a window title, clear the screen or
/// reorder a line by what a task printed or a client submitted. `--json` output is never changed.
enum VisibleText {
    /// `text` with every control character escaped; with `keepingLineBreaks`, line feeds and tabs
    /// stay as they are (a task's multi-line output), and a carriage return before a line feed too.
    static func escaped(_ text: String, keepingLineBreaks: Bool = false) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var visible = ""
        let scalars = Array(text.unicodeScalars)
        for (index, scalar) in scalars.enumerated() {
            let lineBreak =
                scalar == "\n" || scalar == "\t"
                || (scalar == "\r" && index + 1 < scalars.count && scalars[index + 1] == "\n")
            if isControl(scalar) && !(keepingLineBreaks && lineBreak) {
                visible += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            } else {
                visible.unicodeScalars.append(scalar)
            }
        }
        return visible
    }

    /// A table cell: one line (line breaks and tabs become spaces), escaped, and at most `width`
    /// characters, the last of them `…` when it was cut.
    static func cell(_ text: String, width: Int) -> String {
        var line = ""
        for scalar in text.unicodeScalars {
            if scalar == "\n" || scalar == "\r" || scalar == "\t" { line += " " } else { line.unicodeScalars.append(scalar) }
        }
        return cut(escaped(line), to: width)
    }

    /// `text` cut to `width` characters with a trailing `…`.
    static func cut(_ text: String, to width: Int) -> String {
        guard text.count > width else { return text }
        guard width > 1 else { return width == 1 ? "…" : "" }
        return String(text.prefix(width - 1)) + "…"
    }

    /// A task's output bytes for a terminal: UTF-8 text with control characters escaped (line
    /// breaks and tabs kept) and each byte that is not UTF-8 written as `\xE9`.
    static func terminalBytes(_ bytes: [UInt8]) -> [UInt8] {
        var text = ""
        var index = 0
        while index < bytes.count {
            let length = validSequenceLength(bytes, at: index)
            if length == 0 {
                text += "\\x" + (bytes[index] < 0x10 ? "0" : "") + String(bytes[index], radix: 16, uppercase: true)
                index += 1
            } else {
                text += String(decoding: bytes[index..<index + length], as: UTF8.self)
                index += length
            }
        }
        return Array(escaped(text, keepingLineBreaks: true).utf8)
    }

    /// The length of the valid UTF-8 sequence that starts at `index`, or 0 if none does.
    private static func validSequenceLength(_ bytes: [UInt8], at index: Int) -> Int {
        let lead = bytes[index]
        let length = lead < 0x80 ? 1 : lead >= 0xC2 && lead <= 0xDF ? 2 : lead >= 0xE0 && lead <= 0xEF ? 3 : lead >= 0xF0 && lead <= 0xF4 ? 4 : 0
        guard length > 1 else { return length }
        guard index + length <= bytes.count else { return 0 }
        return String(validating: bytes[index..<index + length], as: UTF8.self) == nil ? 0 : length
    }

    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F: true
        // Bidirectional marks, embeddings, overrides and isolates: they reorder what follows.
        case 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069, 0x061C: true
        default: false
        }
    }
}
