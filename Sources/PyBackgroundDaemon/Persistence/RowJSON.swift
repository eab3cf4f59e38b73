import PyBackground
import PyBackgroundProtocol
import PyBackgroundState

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The JSON columns of a stored task, written with the protocol's own encoding so that a restored
/// task reads back exactly as it did before the restart.
enum RowJSON {
    static func words(_ words: [String]) -> String {
        words.isEmpty ? "[]" : ProtocolJSON.encode(words)
    }

    static func args(_ args: [any Sendable]) -> String {
        args.isEmpty ? "[]" : ProtocolJSON.encode(args.map(JSONValue.init(recorded:)))
    }

    static func kwargs(_ kwargs: [KeywordArgument]) -> String {
        kwargs.isEmpty
            ? "{}"
            : ProtocolJSON.encode(
                Dictionary(kwargs.map { ($0.name, JSONValue(recorded: $0.value)) }, uniquingKeysWith: { _, last in last }))
    }

    /// The `result` and `error` columns of an outcome.
    static func outcome(_ outcome: Result<any Sendable, any Error>?) -> (result: String?, error: String?) {
        switch outcome {
        case .success(let value)?:
            let json = JSONValue(recorded: value)
            return (json == .null ? "null" : ProtocolJSON.encode(json), nil)
        case .failure(let error)?:
            return (nil, ProtocolJSON.encode(ErrorPayload(error)))
        case nil:
            return (nil, nil)
        }
    }

    // MARK: - Reading back

    /// The task record of a row. Keyword arguments come back in name order (a JSON object keeps none).
    static func record(_ row: StoredTask, path: String) throws(StateStoreError) -> TaskRecord {
        let args = try decode([JSONValue].self, row.args, row: row, column: "args", path: path)
        let kwargs = try decode([String: JSONValue].self, row.kwargs, row: row, column: "kwargs", path: path)
        return TaskRecord(
            id: row.id, name: row.name, args: args,
            kwargs: kwargs.sorted { $0.key < $1.key }.map { KeywordArgument(name: $0.key, value: $0.value) },
            submittedAt: row.submittedAt, runAt: row.runAt, schedule: row.schedule, tick: row.tick)
    }

    /// The words a client typed, to bind again.
    static func words(_ row: StoredTask, path: String) throws(StateStoreError) -> [String] {
        try decode([String].self, row.words, row: row, column: "words", path: path)
    }

    /// An ended row's outcome: its value, or its error as the failure the protocol reports.
    static func restoredOutcome(_ row: StoredTask, path: String) throws(StateStoreError) -> Result<any Sendable, any Error> {
        if let error = row.error {
            let payload = try decode(ErrorPayload.self, error, row: row, column: "error", path: path)
            return .failure(TaskFailure(TaskFailure.Code(payload.code), payload.message, detail: payload.detail))
        }
        return .success(try decode(JSONValue.self, row.result ?? "null", row: row, column: "result", path: path))
    }

    private static func decode<Value: Decodable>(
        _ type: Value.Type, _ text: String, row: StoredTask, column: String,
        path: String
    ) throws(StateStoreError) -> Value {
        do {
            return try ProtocolJSON.decode(type, from: text)
        } catch {
            throw StateStoreError(
                .corrupt, path: path,
                "row \(row.sequence) (task \(row.id)): column \(column) is not the JSON it should be. \(StateStoreError.leftAloneAdvice(path))")
        }
    }
}
