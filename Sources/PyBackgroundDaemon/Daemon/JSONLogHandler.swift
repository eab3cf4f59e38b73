import Logging
import PyBackgroundProtocol
import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// `log.format: json`: one JSON object per line on standard error, for journald and log
/// shippers: `time` (RFC 3339, UTC, milliseconds), `level`, `message`, `label`, then every
/// metadata field as a key of its own (a field named like one of those is written `meta.NAME`).
///
/// ```json
/// {"time":"2026-11-27T20:40:01.123Z","level":"info","message":"submitted","label":"pybgd","id":"3f2a…","pid":"4121","task":"backup","uid":"1000"}
/// ```
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let write: @Sendable (String) -> Void

    /// A handler for `label` that writes each line with `write` (standard error by default).
    public init(label: String, write: @escaping @Sendable (String) -> Void = JSONLogHandler.standardError) {
        self.label = label
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let provided = metadataProvider?.get() { fields.merge(provided) { _, new in new } }
        if let own = event.metadata { fields.merge(own) { _, new in new } }
        write(Self.line(time: Date(), level: event.level, message: "\(event.message)", label: label, metadata: fields))
    }

    /// The keys every line has; a metadata field of the same name is written `meta.NAME`.
    static let reserved: Set<String> = ["time", "level", "message", "label"]

    /// One log line, newline included.
    static func line(time: Date, level: Logger.Level, message: String, label: String, metadata: Logger.Metadata) -> String {
        var line =
            #"{"time":"# + ProtocolJSON.encode(JSONValue.string(rfc3339(time))) + #","level":""# + level.rawValue
            + #"","message":"# + ProtocolJSON.encode(JSONValue.string(message)) + #","label":"#
            + ProtocolJSON.encode(JSONValue.string(label))
        for key in metadata.keys.sorted() {
            let name = reserved.contains(key) ? "meta.\(key)" : key
            line += "," + ProtocolJSON.encode(JSONValue.string(name)) + ":" + ProtocolJSON.encode(json(metadata[key]!))
        }
        return line + "}\n"
    }

    private static func json(_ value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let text): .string(text)
        case .stringConvertible(let convertible): .string(convertible.description)
        case .array(let values): .array(values.map(json))
        case .dictionary(let fields): .object(fields.mapValues(json))
        }
    }

    /// `2026-11-27T20:40:01.123Z`.
    static func rfc3339(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let fraction = Int(milliseconds % 1000)
        let millis = fraction < 10 ? "00\(fraction)" : fraction < 100 ? "0\(fraction)" : "\(fraction)"
        return
            "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(millis)Z"
    }

    /// Writes whole lines to standard error, one at a time: lines of several threads never interleave.
    public static let standardError: @Sendable (String) -> Void = { line in
        stderrLock.withLock { _ in
            var bytes = Array(line.utf8)
            var offset = 0
            while offset < bytes.count {
                let written = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress! + offset, $0.count - offset) }
                if written <= 0 {
                    if written < 0 && errno == EINTR { continue }
                    return
                }
                offset += written
            }
            bytes.removeAll()
        }
    }

    private static let stderrLock = Mutex(())
}
