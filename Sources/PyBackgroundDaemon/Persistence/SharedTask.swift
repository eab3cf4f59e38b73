import PyBackground
import PyBackgroundPostgres
import PyBackgroundProtocol

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A submission as the shared store keeps it (the `record` column), and back: what any host needs
/// to run it, which is what a client typed (the task's words and flow options), never the bound
/// values: each host binds the words to its own registration of the task, as a restart does.
struct SharedTask: Codable, Sendable, Equatable {
    var words: [String]
    var options: [String]
    var submittedAt: Double
    var runAt: Double?
    var schedule: String?
    var tick: Double?

    init(_ submission: Submission) {
        let record = submission.record
        words = submission.words
        options = submission.optionWords
        submittedAt = record.submittedAt.timeIntervalSince1970
        runAt = record.runAt?.timeIntervalSince1970
        schedule = record.schedule
        tick = record.tick?.timeIntervalSince1970
    }

    /// The row a submission is inserted as.
    static func row(_ submission: Submission) -> PostgresTaskQueue.NewTask {
        let record = submission.record
        let options = record.hasOptions ? record.options : TaskOptions()
        return PostgresTaskQueue.NewTask(
            id: UUID(submission.record.id), name: record.name, record: ProtocolJSON.encode(SharedTask(submission)),
            queue: options.queue ?? "default", priority: options.priority, runAt: record.runAt, uniqueKey: options.uniqueKey,
            maxAttempts: max(options.retry?.maxAttempts ?? 1, 1), retrySafe: submission.task.retryIfInterrupted, after: submission.after)
    }

    /// Why a claimed task cannot run on this host.
    struct Unrunnable: Error {
        let failure: TaskFailure
    }

    /// The submission a claim runs as here, bound to this host's `registry`; the ``Unrunnable``
    /// failure it ends with when its record or words do not fit it.
    static func submission(_ claim: PostgresTaskQueue.Claim, registry: TaskRegistry) -> Result<Submission, Unrunnable> {
        let name = claim.name
        let shared: SharedTask
        do {
            shared = try ProtocolJSON.decode(SharedTask.self, from: claim.record)
        } catch {
            return .failure(Unrunnable(failure: TaskFailure(.notRestartable, "not run: its stored record is not one this pybgd reads (\(error.message))")))
        }
        guard let task = registry[name] else {
            return .failure(
                Unrunnable(
                    failure: TaskFailure(
                        .notRestartable, "not run: no task named \"\(name)\" is registered on this host (registered: \(registry.names.joined(separator: ", ")))"
                    )))
        }
        let options: SubmitOptions
        do {
            options = shared.options.isEmpty ? SubmitOptions() : try SubmitOptions.take(from: shared.options + ["-"]).options
        } catch {
            return .failure(Unrunnable(failure: TaskFailure(.notRestartable, "not run: its stored options \(shared.options) do not read (\(error.message))")))
        }
        let arguments: BoundArguments
        do {
            arguments = try BoundArguments.bind(shared.words, to: task.parameters, task: name)
        } catch {
            return .failure(Unrunnable(failure: TaskFailure(.notRestartable, "not run on this host: \(error.message)")))
        }
        let taskOptions = options.isEmpty && task.policy.isDefault ? TaskOptions() : task.policy.options(for: options, after: [])
        // Due now: the store decided that when it was claimed.
        let record = TaskRecord(
            id: TaskID(claim.id), name: name, args: arguments.positional, kwargs: arguments.keywordArguments,
            submittedAt: Date(timeIntervalSince1970: shared.submittedAt), runAt: nil, schedule: shared.schedule,
            tick: shared.tick.map(Date.init(timeIntervalSince1970:)), options: taskOptions)
        return .success(Submission(record: record, task: task, arguments: arguments, words: shared.words, optionWords: shared.options))
    }

    /// A row of the shared table as RESULT and WAIT report it: the arguments bound to this host's
    /// registration of the task when they still bind (else the words as they were typed).
    static func payload(_ row: PostgresTaskQueue.Row, registry: TaskRegistry?) -> FuturePayload {
        let shared = try? ProtocolJSON.decode(SharedTask.self, from: row.record)
        let words = shared?.words ?? []
        var args: [JSONValue] = words.map(JSONValue.string)
        var kwargs: [String: JSONValue] = [:]
        if let task = registry?[row.name], let bound = try? BoundArguments.bind(words, to: task.parameters, task: row.name) {
            args = bound.positional.map(JSONValue.init(recorded:))
            kwargs = Dictionary(bound.keywordArguments.map { ($0.name, JSONValue(recorded: $0.value)) }, uniquingKeysWith: { _, last in last })
        }
        let outcome = row.outcome.flatMap { try? ProtocolJSON.decode(StoredOutcome.self, from: $0) }
        let started = row.startedAt?.timeIntervalSince1970
        let ended = row.endedAt?.timeIntervalSince1970
        var payload = FuturePayload(
            id: TaskID(row.id).description, name: row.name, args: args, kwargs: kwargs, state: row.state,
            submittedAt: shared?.submittedAt ?? row.submittedAt.timeIntervalSince1970, runAt: shared?.runAt, schedule: shared?.schedule,
            tick: shared?.tick, startedAt: started, endedAt: ended,
            durationSeconds: started.flatMap { start in ended.map { $0 - start } ?? (row.state == "running" ? Date().timeIntervalSince1970 - start : nil) },
            result: outcome?.result, error: outcome?.error, attempt: row.maxAttempts > 1 ? row.attempt : nil)
        payload.host = row.host
        return payload
    }

    /// The `outcome` column: `{"result":…,"error":…}`.
    private struct StoredOutcome: Decodable {
        let result: JSONValue?
        let error: ErrorPayload?
    }
}
