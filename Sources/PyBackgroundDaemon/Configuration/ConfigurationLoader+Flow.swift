import PyBackground
import PyBackgroundProtocol
import Yams

/// The keys of failure and flow: `queues:`, and a command task's `queue`, `priority` and `retry`.
extension ConfigurationLoader {
    /// `queues:` a mapping of name to `{max_running: N|null}`.
    static func readQueues(_ node: Node, reader: NodeReader) throws -> [DaemonConfiguration.Queue] {
        guard let mapping = node.mapping else {
            throw reader.error(node, key: "queues", "must be a mapping of queue name to {max_running: N}, e.g. uploads: {max_running: 2}")
        }
        var queues: [DaemonConfiguration.Queue] = []
        for (nameNode, value) in mapping {
            let name = try reader.string(nameNode, key: "queues")
            guard Name.isValid(name) else {
                throw reader.error(nameNode, key: "queues.\(name)", "\"\(name)\" is not a queue name: letters, digits, - _ . (up to 64)")
            }
            var maxRunning: Int?
            if value.null == nil {
                let keys = try reader.mapping(value, key: "queues.\(name)", allowed: ["max_running"])
                maxRunning = try keys["max_running"].flatMap { try reader.optionalInt($0, key: "queues.\(name).max_running", range: 1...4096) }
            }
            queues.append(DaemonConfiguration.Queue(name: name, maxRunning: maxRunning))
        }
        return queues
    }

    /// A command task's `queue`, `priority` and `retry` (its timeout is read with the task).
    static func readPolicy(_ keys: [String: Node], key: String, reader: NodeReader) throws -> TaskPolicy {
        var policy = TaskPolicy()
        if let node = keys["queue"], node.null == nil {
            let queue = try reader.string(node, key: "\(key).queue")
            guard Name.isValid(queue) else {
                throw reader.error(node, key: "\(key).queue", "\"\(queue)\" is not a queue name: letters, digits, - _ . (up to 64)")
            }
            policy.queue = queue
        }
        if let node = keys["priority"] {
            policy.priority = try reader.int(node, key: "\(key).priority", range: SubmitOptions.priorityRange)
        }
        if let node = keys["retry"], node.null == nil {
            policy.retry = try readRetry(node, key: "\(key).retry", reader: reader)
        }
        return policy
    }

    /// `retry: {max_attempts, backoff: exponential|fixed, base, max_delay, jitter, codes, exit_statuses}`.
    static func readRetry(_ node: Node, key: String, reader: NodeReader) throws -> RetrySettings {
        let keys = try reader.mapping(
            node, key: key, allowed: ["max_attempts", "backoff", "base", "max_delay", "jitter", "codes", "exit_statuses"])
        guard let attemptsNode = keys["max_attempts"] else {
            throw reader.error(node, key: "\(key).max_attempts", "is required: attempts in all, the first included (2 retries once)", code: .missingKey)
        }
        let maxAttempts = try reader.int(attemptsNode, key: "\(key).max_attempts", range: SubmitOptions.attemptsRange)
        var kind = Backoff.default.kind
        if let node = keys["backoff"] {
            let text = try reader.string(node, key: "\(key).backoff")
            guard let parsed = Backoff.Kind(rawValue: text.lowercased()) else {
                throw reader.error(node, key: "\(key).backoff", "must be exponential or fixed, got \"\(text)\"")
            }
            kind = parsed
        }
        let base = try keys["base"].map { try span($0, key: "\(key).base", reader: reader) } ?? Backoff.default.base
        let maxDelay = try keys["max_delay"].map { try span($0, key: "\(key).max_delay", reader: reader) } ?? max(base, Backoff.default.maxDelay)
        guard maxDelay >= base else {
            throw reader.error(keys["max_delay"] ?? node, key: "\(key).max_delay", "is shorter than base; it caps the delay, so it must be at least base")
        }
        var jitter = Backoff.default.jitter
        if let node = keys["jitter"] {
            jitter = try reader.double(node, key: "\(key).jitter", minimum: 0)
            guard jitter <= 1 else { throw reader.error(node, key: "\(key).jitter", "must be a fraction from 0 to 1 (0.1: up to 10% off each delay)") }
        }
        var codes: Set<String>?
        if let node = keys["codes"], node.null == nil {
            guard let list = node.sequence else {
                throw reader.error(node, key: "\(key).codes", "must be a list of failure codes, e.g. [exit-status, timed-out, interrupted]")
            }
            codes = Set(try list.enumerated().map { index, item in try reader.string(item, key: "\(key).codes[\(index)]") })
        }
        var exitStatuses: Set<Int>?
        if let node = keys["exit_statuses"], node.null == nil {
            guard let list = node.sequence else {
                throw reader.error(node, key: "\(key).exit_statuses", "must be a list of exit statuses, e.g. [75, 111]")
            }
            exitStatuses = Set(
                try list.enumerated().map { index, item in try reader.int(item, key: "\(key).exit_statuses[\(index)]", range: 1...255) })
        }
        return RetrySettings(
            maxAttempts: maxAttempts, backoff: Backoff(kind, base: base, maxDelay: maxDelay, jitter: jitter), codes: codes,
            exitStatuses: exitStatuses)
    }

    /// A length of time: a span (`500ms`, `10s`, `5m`) or a number of seconds.
    private static func span(_ node: Node, key: String, reader: NodeReader) throws -> Duration {
        let text = try reader.string(node, key: key)
        if let seconds = Double(text), seconds.isFinite, seconds >= 0 {
            return .nanoseconds(Int64((seconds * 1e9).rounded()))
        }
        do throws(ProtocolError) {
            return try TimeSpan.parse(text[...])
        } catch {
            throw reader.error(node, key: key, error.message)
        }
    }
}
