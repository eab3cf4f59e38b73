import Logging

/// The handler behind ``CapturedLog/logger(label:level:)``: a value, as swift-log requires, that
/// appends to the shared log.
struct CapturedLogHandler: LogHandler {
    let sink: CapturedLog
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .debug

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        sink.append(
            CapturedLog.Entry(
                level: event.level, message: event.message.description,
                metadata: merged.mapValues(\.description)))
    }
}
