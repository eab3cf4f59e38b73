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

    /// The `attempts` column: earlier attempts with their errors as the protocol reports them.
    static func attempts(_ attempts: [TaskAttempt]) -> String {
        ProtocolJSON.encode(attempts.map(AttemptPayload.init))
    }

    /// The earlier attempts of a row, as the scheduler keeps them.
    static func attempts(_ row: StoredTask, path: String) throws(StateStoreError) -> [TaskAttempt] {
        guard let text = row.attempts else { return [] }
        return try decode([AttemptPayload].self, text, row: row, column: "attempts", path: path).map { payload in
            TaskAttempt(
                number: payload.attempt, startedAt: payload.startedAt.map(Date.init(timeIntervalSince1970:)),
                endedAt: Date(timeIntervalSince1970: payload.endedAt),
                error: TaskFailure(TaskFailure.Code(payload.error.code), payload.error.message, detail: payload.error.detail))
        }
    }

    /// The flow option words of a row (none for a row without options).
    static func optionWords(_ row: StoredTask, path: String) throws(StateStoreError) -> [String] {
        guard let text = row.options else { return [] }
        return try decode([String].self, text, row: row, column: "options", path: path)
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
    static func record(_ row: StoredTask, options: TaskOptions = TaskOptions(), path: String) throws(StateStoreError) -> TaskRecord {
        let args = try decode([JSONValue].self, row.args, row: row, column: "args", path: path)
        let kwargs = try decode([String: JSONValue].self, row.kwargs, row: row, column: "kwargs", path: path)
        // A retrying row's run_at is its next attempt's time, not a time it was submitted for.
        return TaskRecord(
            id: row.id, name: row.name, args: args,
            kwargs: kwargs.sorted { $0.key < $1.key }.map { KeywordArgument(name: $0.key, value: $0.value) },
            submittedAt: row.submittedAt, runAt: row.state == .retrying ? nil : row.runAt, schedule: row.schedule, tick: row.tick,
            options: options)
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
