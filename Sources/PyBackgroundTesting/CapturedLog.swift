import Logging

/// What a logger was told, kept for a test to read: hand ``logger(label:level:)`` to the code under
/// test (an ``InProcessDaemon`` does), then look for a message.
public final class CapturedLog: Sendable {
    /// One log call.
    public struct Entry: Sendable, CustomStringConvertible {
        public let level: Logger.Level
        public let message: String
        public let metadata: [String: String]

        /// `level message key=value …`, keys sorted.
        public var description: String {
            ([level.rawValue, message] + metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })
                .joined(separator: " ")
        }
    }

    private let entries = Log<Entry>()

    public init() {}

    /// A logger whose messages at `level` and above land here.
    public func logger(label: String, level: Logger.Level = .debug) -> Logger {
        var logger = Logger(label: label) { _ in CapturedLogHandler(sink: self) }
        logger.logLevel = level
        return logger
    }

    /// Every entry so far, in order.
    public var all: [Entry] { entries.all }

    /// The entries as lines, in order.
    public var text: String { all.map(\.description).joined(separator: "\n") }

    /// Whether some entry's line contains `fragment`.
    public func contains(_ fragment: String) -> Bool { all.contains { $0.description.contains(fragment) } }

    func append(_ entry: Entry) { entries.append(entry) }
}
