/// The one rule for the names clients type: registered tasks, queues and schedules. 1 to 64
/// ASCII letters, digits, `-`, `_` and `.`, starting with a letter or digit, so that a name is
/// one word on the line, never an option (`-…`), a key (`…=…`) or a path.
///
/// ```swift
/// Name.isValid("disk-usage")   // true
/// Name.isValid("-rf")          // false
/// ```
public enum Name {
    public static func isValid(_ text: some StringProtocol) -> Bool {
        let bytes = text.utf8
        guard (1...64).contains(bytes.count), let first = bytes.first, first != 0x2D, first != 0x5F, first != 0x2E else { return false }
        return bytes.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A) || byte == 0x2D || byte == 0x5F || byte == 0x2E
        }
    }
}
