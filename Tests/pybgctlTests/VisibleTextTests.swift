import Testing

@testable import pybgctl

/// What a task or a client wrote is shown, never executed.
@Suite("Visible text")
struct VisibleTextTests {
    @Test(
        "control characters are escaped; line breaks are kept only where asked",
        arguments: [
            ("plain text", false, "plain text"),
            ("\u{1B}]0;TITLE\u{07}", false, "\\u{1B}]0;TITLE\\u{7}"),
            ("a\nb\tc", false, "a\\u{A}b\\u{9}c"),
            ("a\nb\tc", true, "a\nb\tc"),
            ("a\r\nb", true, "a\r\nb"),
            ("a\rb", true, "a\\u{D}b"),
            ("\u{9B}31m", true, "\\u{9B}31m"),
            ("\u{202E}txt.exe", true, "\\u{202E}txt.exe"),
            ("\u{7F}", false, "\\u{7F}"),
            ("café 💡", false, "café 💡"),
        ])
    func escaped(text: String, keepingLineBreaks: Bool, expected: String) {
        #expect(VisibleText.escaped(text, keepingLineBreaks: keepingLineBreaks) == expected)
    }

    @Test(
        "a cell is one line, escaped and cut with an ellipsis",
        arguments: [
            ("short", 10, "short"),
            ("exactly10!", 10, "exactly10!"),
            ("eleven char", 10, "eleven ch…"),
            ("two\nlines", 20, "two lines"),
            ("\u{1B}[2J", 20, "\\u{1B}[2J"),
            ("\u{1B}[2J", 5, "\\u{1…"),
            ("x", 1, "x"),
            ("xy", 1, "…"),
        ])
    func cell(text: String, width: Int, expected: String) {
        #expect(VisibleText.cell(text, width: width) == expected)
        #expect(VisibleText.cell(text, width: width).count <= width)
    }

    @Test(
        "a task's bytes for a terminal: UTF-8 kept, bytes that are not shown as \\xNN, controls escaped",
        arguments: [
            (Array("caf".utf8) + [0xE9, 0x0A], "caf\\xE9\n"),
            (Array("ok\n".utf8), "ok\n"),
            ([0x1B, 0x5B, 0x32, 0x4A], "\\u{1B}[2J"),
            (Array("é".utf8), "é"),
            ([0xC3], "\\xC3"),
            ([0xF0, 0x9F, 0x92], "\\xF0\\x9F\\x92"),
            ([0xED, 0xA0, 0x80], "\\xED\\xA0\\x80"),
            ([0x00, 0x41], "\\u{0}A"),
        ] as [([UInt8], String)])
    func terminalBytes(bytes: [UInt8], expected: String) {
        #expect(String(decoding: VisibleText.terminalBytes(bytes), as: UTF8.self) == expected)
    }
}
