import PyBackground
import PyBackgroundProtocol

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension JSONValue {
    /// How a task argument or result recorded by the scheduler crosses the socket.
    init(recorded value: any Sendable) {
        switch value {
        case let json as JSONValue: self = json
        case let argument as ArgumentValue: self = argument.json
        case let text as String: self = .string(text)
        case let number as Int: self = .int(number)
        case let number as Double: self = .double(number)
        case let flag as Bool: self = .bool(flag)
        case is Void: self = .null
        default: self = .string("\(value)")
        }
    }
}

extension TaskPayload {
    init(_ record: TaskRecord) {
        self.init(
            id: record.id.description, name: record.name,
            args: record.args.map(JSONValue.init(recorded:)),
            kwargs: Dictionary(record.kwargs.map { ($0.name, JSONValue(recorded: $0.value)) }, uniquingKeysWith: { _, last in last }),
            submittedAt: record.submittedAt.timeIntervalSince1970, runAt: record.runAt?.timeIntervalSince1970,
            schedule: record.schedule, tick: record.tick?.timeIntervalSince1970, flow: FlowPayload(record))
    }
}

extension FlowPayload {
    /// A record's options, each absent when it is the default; nil when all are.
    init?(_ record: TaskRecord) {
        let options = record.options
        guard !options.isDefault else { return nil }
        self.init(
            queue: options.queue.flatMap { $0 == "default" ? nil : $0 }, priority: options.priority == 0 ? nil : options.priority,
            after: options.after.isEmpty ? nil : options.after.map(\.description),
            maxAttempts: options.retry.map(\.maxAttempts), timeoutSeconds: options.timeout.map(\.secondsAsDouble),
            unique: options.uniqueKey, retryOf: options.retryOf?.description)
    }
}

extension AttemptPayload {
    init(_ attempt: TaskAttempt) {
        self.init(
            attempt: attempt.number, startedAt: attempt.startedAt?.timeIntervalSince1970, endedAt: attempt.endedAt.timeIntervalSince1970,
            error: ErrorPayload(attempt.error))
    }
}

extension StopPayload {
    init(_ request: StopRequest) {
        switch request.reason {
        case .killed(let who):
            self.init(reason: "killed", by: who, requestedAt: request.requestedAt.timeIntervalSince1970)
        case .timedOut:
            self.init(reason: "timed-out", by: nil, requestedAt: request.requestedAt.timeIntervalSince1970)
        }
    }
}

extension ErrorPayload {
    init(_ error: any Error) {
        switch error {
        case let failure as TaskFailure:
            self.init(code: failure.code.rawValue, message: failure.message, detail: failure.detail)
        case let scheduler as SchedulerError:
            self.init(code: scheduler.code.rawValue, message: scheduler.message)
        default:
            self.init(code: "task-error", message: "\(error)")
        }
    }
}

extension FuturePayload {
    init(_ future: Future, now: Date = Date()) {
        let task = TaskPayload(future.record)
        let snapshot = future.snapshot
        let started = snapshot.startedAt
        let ended = snapshot.endedAt
        var result: JSONValue?
        var error: ErrorPayload?
        switch snapshot.outcome {
        case .success(let value)?: result = JSONValue(recorded: value)
        case .failure(let failure)?: error = ErrorPayload(failure)
        case nil: break
        }
        self.init(
            id: task.id, name: task.name, args: task.args, kwargs: task.kwargs,
            state: snapshot.state.rawValue,
            submittedAt: task.submittedAt, runAt: task.runAt, schedule: task.schedule, tick: task.tick,
            startedAt: started?.timeIntervalSince1970,
            endedAt: ended?.timeIntervalSince1970,
            durationSeconds: started.map { (ended ?? now).timeIntervalSince($0) },
            result: result, error: error, flow: task.flow,
            attempt: snapshot.attempt > 1 || future.record.options.retry != nil ? snapshot.attempt : nil,
            attempts: snapshot.attempts.isEmpty ? nil : snapshot.attempts.map(AttemptPayload.init),
            retryAt: snapshot.retryAt?.timeIntervalSince1970, stop: snapshot.stopRequest.map(StopPayload.init))
    }
}
