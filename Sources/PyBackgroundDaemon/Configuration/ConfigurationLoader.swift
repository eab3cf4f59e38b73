import Logging
import PyBackgroundProtocol
import Yams

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Reads `pybgd.yaml` into a ``DaemonConfiguration``, checking every key once, at start-up.
///
/// The YAML is walked as a node tree rather than decoded, so an error can name the file, the line,
/// the key path and what that key accepts, and an unknown key (a typo) is refused rather than
/// silently ignored.
public enum ConfigurationLoader {
    /// Reads and checks the file at `path`.
    public static func load(path: String) throws(ConfigurationError) -> DaemonConfiguration {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError(.unreadable, file: path, line: nil, key: "", message: "cannot read the config file: \(error.localizedDescription)")
        }
        return try parse(text, file: path)
    }

    /// Parses config text; `file` is only for messages.
    public static func parse(_ text: String, file: String? = nil) throws(ConfigurationError) -> DaemonConfiguration {
        do {
            return try read(text, file: file)
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw ConfigurationError(.invalidValue, file: file, line: nil, key: "", message: "\(error)")
        }
    }

    // Internals throw untyped (closures over optional keys lose a typed error); every error is a ConfigurationError.
    private static func read(_ text: String, file: String?) throws -> DaemonConfiguration {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw ConfigurationError(.invalidYAML, file: file, line: nil, key: "", message: "not valid YAML: \(oneLine(yamlError: "\(error)"))")
        }
        var configuration = DaemonConfiguration()
        guard let root, !(root.null != nil) else { return configuration }  // an empty file: all defaults
        let reader = NodeReader(file: file)
        let top = try reader.mapping(
            root, key: "",
            allowed: ["socket", "access", "scheduler", "state", "server", "shutdown", "log", "output", "events", "http", "queues", "tasks", "schedules"])

        if let socket = top["socket"], socket.null == nil {
            let keys = try reader.mapping(socket, key: "socket", allowed: ["path", "mode", "group"])
            configuration.socket.path = try keys["path"].flatMap { try reader.optionalString($0, key: "socket.path") }
            let maximum = SocketFile.maximumPathBytes
            if let path = configuration.socket.path, let node = keys["path"], path.utf8.count > maximum {
                throw reader.error(node, key: "socket.path", "is \(path.utf8.count) bytes; a Unix socket's path may have at most \(maximum)")
            }
            if let mode = keys["mode"] {
                let text = try reader.string(mode, key: "socket.mode")
                switch text {
                case "0600", "600": configuration.socket.mode = 0o600
                case "0660", "660": configuration.socket.mode = 0o660
                default: throw reader.error(mode, key: "socket.mode", "must be \"0600\" (owner only) or \"0660\" (owner and group), got \"\(text)\"")
                }
            }
            configuration.socket.group = try keys["group"].flatMap { try reader.optionalGroup($0, key: "socket.group") }
            if configuration.socket.mode == 0o660 && configuration.socket.group == nil {
                throw reader.error(socket, key: "socket.group", "mode 0660 gives a group access: name the group")
            }
        }

        if let access = top["access"], access.null == nil {
            let keys = try reader.mapping(access, key: "access", allowed: ["allow_users", "allow_groups"])
            if let node = keys["allow_users"] {
                configuration.access.allowUsers = try reader.optionalAccounts(node, key: "access.allow_users", kind: "user", resolve: SystemAccounts.userID)
            }
            if let node = keys["allow_groups"] {
                configuration.access.allowGroups = try reader.optionalAccounts(node, key: "access.allow_groups", kind: "group", resolve: SystemAccounts.groupID)
            }
        }

        if let scheduler = top["scheduler"], scheduler.null == nil {
            let keys = try reader.mapping(
                scheduler, key: "scheduler",
                allowed: [
                    "max_workers", "keep_finished", "keep_finished_seconds", "max_pending", "max_scheduled", "kill_grace_seconds",
                ])
            if let node = keys["kill_grace_seconds"] {
                configuration.scheduler.killGraceSeconds = try reader.double(node, key: "scheduler.kill_grace_seconds", minimum: 0.1)
            }
            if let node = keys["max_workers"] {
                configuration.scheduler.maxWorkers = try reader.optionalInt(node, key: "scheduler.max_workers", range: 1...4096)
            }
            if let node = keys["keep_finished"] {
                configuration.scheduler.keepFinished = try reader.optionalInt(node, key: "scheduler.keep_finished", range: 0...Int.max)
            }
            if let node = keys["keep_finished_seconds"] {
                configuration.scheduler.keepFinishedSeconds = try reader.optionalDouble(node, key: "scheduler.keep_finished_seconds", minimum: 1)
            }
            if let node = keys["max_pending"] {
                configuration.scheduler.maxPending = try reader.int(node, key: "scheduler.max_pending", range: 1...Int.max)
            }
            if let node = keys["max_scheduled"] {
                configuration.scheduler.maxScheduled = try reader.int(node, key: "scheduler.max_scheduled", range: 1...Int.max)
            }
        }

        if let state = top["state"], state.null == nil {
            let keys = try reader.mapping(
                state, key: "state",
                allowed: [
                    "store", "path", "group", "url", "password_file", "host_name", "lease_seconds", "crash_limit", "prefetch", "poll_seconds",
                ])
            if let node = keys["store"] {
                let text = try reader.string(node, key: "state.store")
                guard let store = DaemonConfiguration.State.Store(rawValue: text.lowercased()) else {
                    throw reader.error(
                        node, key: "state.store",
                        "must be \"sqlite\" (durable, the default), \"memory\" (lost at exit) or \"postgresql\" (shared by several hosts, with state.url), got \"\(text)\""
                    )
                }
                configuration.state.store = store
            }
            configuration.state.path = try keys["path"].flatMap { try reader.optionalString($0, key: "state.path") }
            configuration.state.group = try keys["group"].flatMap { try reader.optionalGroup($0, key: "state.group") }
            try readSharedStore(keys, node: state, into: &configuration.state, reader: reader)
        }

        if let server = top["server"], server.null == nil {
            let keys = try reader.mapping(server, key: "server", allowed: ["max_connections", "max_line_bytes", "idle_timeout_seconds"])
            if let node = keys["max_connections"] {
                configuration.server.maxConnections = try reader.int(node, key: "server.max_connections", range: 1...1_000_000)
            }
            if let node = keys["max_line_bytes"] {
                configuration.server.maxLineBytes = try reader.int(node, key: "server.max_line_bytes", range: 64...(64 << 20))
            }
            if let node = keys["idle_timeout_seconds"] {
                configuration.server.idleTimeoutSeconds = try reader.optionalDouble(node, key: "server.idle_timeout_seconds", minimum: 0.001)
            }
        }

        if let shutdown = top["shutdown"], shutdown.null == nil {
            let keys = try reader.mapping(shutdown, key: "shutdown", allowed: ["timeout_seconds"])
            if let node = keys["timeout_seconds"] {
                configuration.shutdown.timeoutSeconds = try reader.double(node, key: "shutdown.timeout_seconds", minimum: 0)
            }
        }

        if let log = top["log"], log.null == nil {
            let keys = try reader.mapping(log, key: "log", allowed: ["level", "submissions", "format"])
            if let node = keys["format"] {
                let text = try reader.string(node, key: "log.format")
                guard let format = DaemonConfiguration.LogFormat(rawValue: text.lowercased()) else {
                    throw reader.error(node, key: "log.format", "must be text or json, got \"\(text)\"")
                }
                configuration.logFormat = format
            }
            if let node = keys["submissions"] {
                configuration.logSubmissions = try reader.bool(node, key: "log.submissions")
            }
            if let node = keys["level"] {
                let text = try reader.string(node, key: "log.level")
                guard let level = Logger.Level(rawValue: text.lowercased()) else {
                    throw reader.error(
                        node, key: "log.level", "must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(text)\"")
                }
                configuration.logLevel = level
            }
        }

        if let output = top["output"], output.null == nil {
            let keys = try reader.mapping(output, key: "output", allowed: ["max_bytes"])
            if let node = keys["max_bytes"] {
                let bytes = try reader.int(node, key: "output.max_bytes", range: 0...(1 << 40))
                guard bytes == 0 || bytes >= 1024 else {
                    throw reader.error(node, key: "output.max_bytes", "must be 0 (keep no output) or at least 1024, got \(bytes)")
                }
                configuration.output.maxBytes = bytes
            }
        }

        if let events = top["events"], events.null == nil {
            let keys = try reader.mapping(events, key: "events", allowed: ["buffer", "on_lag"])
            if let node = keys["buffer"] {
                configuration.events.buffer = try reader.int(node, key: "events.buffer", range: 1...10_000_000)
            }
            if let node = keys["on_lag"] {
                let text = try reader.string(node, key: "events.on_lag")
                guard let policy = DaemonConfiguration.Events.LagPolicy(rawValue: text.lowercased()) else {
                    throw reader.error(node, key: "events.on_lag", "must be skip or close, got \"\(text)\"")
                }
                configuration.events.onLag = policy
            }
        }

        if let http = top["http"], http.null == nil {
            configuration.http = try readHTTP(http, reader: reader)
        }

        if let queues = top["queues"], queues.null == nil {
            configuration.queues = try readQueues(queues, reader: reader)
        }

        if let tasks = top["tasks"], tasks.null == nil {
            guard let sequence = tasks.sequence else {
                throw reader.error(tasks, key: "tasks", "must be a list of command tasks (- name: …)")
            }
            // Who took each name first, for the message about the entry that takes it again.
            var takenBy = Dictionary(TaskRegistry.builtins.names.map { ($0, "the built-in task of that name") }, uniquingKeysWith: { first, _ in first })
            for (index, node) in sequence.enumerated() {
                let command = try readCommand(node, key: "tasks[\(index)]", reader: reader)
                if let owner = takenBy[command.name] {
                    throw reader.error(
                        node.mapping?["name"] ?? node, key: "tasks[\(index)].name",
                        "\"\(command.name)\" is already taken by \(owner); task names must be unique")
                }
                takenBy[command.name] = "tasks[\(index)]" + (node.mark.map { " (line \($0.line))" } ?? "")
                configuration.commands.append(command)
            }
        }
        if let schedules = top["schedules"], schedules.null == nil {
            guard let sequence = schedules.sequence else {
                throw reader.error(schedules, key: "schedules", "must be a list of schedules (- name: …)")
            }
            var seen: [String: Int] = [:]
            for (index, node) in sequence.enumerated() {
                let schedule = try readSchedule(node, key: "schedules[\(index)]", reader: reader)
                if let first = seen[schedule.name] {
                    throw reader.error(
                        node.mapping?["name"] ?? node, key: "schedules[\(index)].name",
                        "\"\(schedule.name)\" is already the name of schedules[\(first)]; schedule names must be unique")
                }
                seen[schedule.name] = index
                configuration.schedules.append(schedule)
            }
        }
        return configuration
    }

    /// One `schedules:` entry: the keys are `SCHEDULE ADD`'s options, read by the same parser, so
    /// that a schedule means the same declared either way. The task and time zone are checked
    /// against the registry when the daemon starts (or reloads).
    private static func readSchedule(_ node: Node, key: String, reader: NodeReader) throws -> ConfiguredSchedule {
        let keys = try reader.mapping(
            node, key: key, allowed: ["name", "task", "args", "every", "cron", "time_zone", "start", "misfire", "overlap"])
        guard let nameNode = keys["name"] else { throw reader.error(node, key: "\(key).name", "is required", code: .missingKey) }
        let name = try reader.string(nameNode, key: "\(key).name")
        do throws(ProtocolError) {
            try ScheduleRequest.validate(name: name)
        } catch {
            throw reader.error(nameNode, key: "\(key).name", error.message)
        }
        guard let taskNode = keys["task"] else { throw reader.error(node, key: "\(key).task", "is required", code: .missingKey) }
        var words: [String] = []
        for (option, word) in [("every", "every"), ("cron", "cron"), ("time_zone", "tz"), ("start", "start"), ("misfire", "misfire"), ("overlap", "overlap")] {
            if let value = keys[option] { words.append("\(word)=\(try reader.string(value, key: "\(key).\(option)"))") }
        }
        words.append(try reader.string(taskNode, key: "\(key).task"))
        if let args = keys["args"], args.null == nil {
            if let list = args.sequence {
                for (index, item) in list.enumerated() { words.append(try reader.string(item, key: "\(key).args[\(index)]")) }
            } else if let mapping = args.mapping {
                for (nameNode, value) in mapping {
                    let parameter = try reader.string(nameNode, key: "\(key).args")
                    words.append("\(parameter)=\(try reader.string(value, key: "\(key).args.\(parameter)"))")
                }
            } else {
                throw reader.error(args, key: "\(key).args", "must be a list of values or a mapping of parameter: value")
            }
        }
        do throws(ProtocolError) {
            return ConfiguredSchedule(name: name, spec: try ScheduleSpec.parse(words))
        } catch {
            throw reader.error(node, key: key, error.message)
        }
    }

    /// Yams' message on one line (a log line is one line): its source excerpt and caret dropped,
    /// its position and reason kept.
    static func oneLine(yamlError text: String) -> String {
        var lines = text.split(separator: "\n").map { String($0) }
        if let caret = lines.lastIndex(where: { $0.trimmingCharacters(in: .whitespaces) == "^" }) {
            lines.remove(at: caret)
            if caret > 1 { lines.remove(at: caret - 1) }  // the excerpt of the line at fault
        }
        var joined = lines.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: " ")
        while joined.hasSuffix(":") { joined.removeLast() }
        return joined
    }

    private static func readCommand(_ node: Node, key: String, reader: NodeReader) throws -> CommandTaskDefinition {
        let keys = try reader.mapping(
            node, key: key,
            allowed: [
                "name", "description", "argv", "parameters", "timeout_seconds", "working_directory",
                "environment", "inherit_environment", "max_output_bytes", "retry_if_interrupted", "queue", "priority", "retry",
            ])
        guard let nameNode = keys["name"] else { throw reader.error(node, key: "\(key).name", "is required", code: .missingKey) }
        let name = try reader.string(nameNode, key: "\(key).name")
        guard RegisteredTask.isValidName(name) else {
            throw reader.error(nameNode, key: "\(key).name", "\"\(name)\" is not allowed: letters, digits, - _ . (up to 64), starting with a letter or digit")
        }
        let description = try keys["description"].map { try reader.string($0, key: "\(key).description") } ?? "run \(name)"

        var parameters: [TaskParameter] = []
        if let list = keys["parameters"], list.null == nil {
            guard let sequence = list.sequence else {
                throw reader.error(list, key: "\(key).parameters", "must be a list of parameters (- name: …, type: …)")
            }
            for (index, entry) in sequence.enumerated() {
                let parameter = try readParameter(entry, key: "\(key).parameters[\(index)]", reader: reader)
                guard !parameters.contains(where: { $0.name == parameter.name }) else {
                    throw reader.error(entry, key: "\(key).parameters[\(index)].name", "\"\(parameter.name)\" is declared twice")
                }
                parameters.append(parameter)
            }
        }

        guard let argvNode = keys["argv"] else {
            throw reader.error(
                node, key: "\(key).argv", "is required: the program and its arguments, e.g. [\"/usr/bin/echo\", \"{message}\"]", code: .missingKey)
        }
        guard let argvSequence = argvNode.sequence, !Array(argvSequence).isEmpty else {
            throw reader.error(argvNode, key: "\(key).argv", "must be a non-empty list of strings: the program, then its arguments")
        }
        var argv: [String] = []
        for (index, element) in argvSequence.enumerated() {
            argv.append(try reader.string(element, key: "\(key).argv[\(index)]"))
        }
        let template: ArgvTemplate
        do {
            template = try ArgvTemplate(argv, parameters: parameters)
        } catch {
            throw reader.error(argvNode, key: "\(key).argv", error.message)
        }

        var environment: [String: String] = [:]
        if let envNode = keys["environment"], envNode.null == nil {
            guard let mapping = envNode.mapping else {
                throw reader.error(envNode, key: "\(key).environment", "must be a mapping of NAME: value")
            }
            for (nameNode, valueNode) in mapping {
                let variable = try reader.string(nameNode, key: "\(key).environment")
                guard !variable.isEmpty, !variable.contains("="), !variable.contains("\0") else {
                    throw reader.error(nameNode, key: "\(key).environment", "\"\(variable)\" is not a valid variable name")
                }
                environment[variable] = try reader.string(valueNode, key: "\(key).environment.\(variable)")
            }
        }

        return CommandTaskDefinition(
            name: name,
            description: description,
            argv: template,
            parameters: parameters,
            timeoutSeconds: try keys["timeout_seconds"].flatMap { try reader.optionalDouble($0, key: "\(key).timeout_seconds", minimum: 0.001) },
            workingDirectory: try keys["working_directory"].flatMap { try reader.optionalString($0, key: "\(key).working_directory") },
            environment: environment,
            inheritEnvironment: try keys["inherit_environment"].map { try reader.bool($0, key: "\(key).inherit_environment") } ?? true,
            maxOutputBytes: try keys["max_output_bytes"].map { try reader.int($0, key: "\(key).max_output_bytes", range: 0...(1 << 30)) }
                ?? CommandTaskDefinition.defaultMaxOutputBytes,
            retryIfInterrupted: try keys["retry_if_interrupted"].map { try reader.bool($0, key: "\(key).retry_if_interrupted") } ?? false,
            policy: try readPolicy(keys, key: key, reader: reader))
    }

    private static func readParameter(_ node: Node, key: String, reader: NodeReader) throws -> TaskParameter {
        let keys = try reader.mapping(node, key: key, allowed: ["name", "type", "default", "min", "description"])
        guard let nameNode = keys["name"] else { throw reader.error(node, key: "\(key).name", "is required", code: .missingKey) }
        let name = try reader.string(nameNode, key: "\(key).name")
        guard RegisteredTask.isValidName(name), !name.contains(".") else {
            throw reader.error(nameNode, key: "\(key).name", "\"\(name)\" is not allowed: letters, digits, - and _")
        }
        guard let typeNode = keys["type"] else {
            throw reader.error(
                node, key: "\(key).type", "is required: one of \(ParameterType.allCases.map(\.rawValue).joined(separator: ", "))", code: .missingKey)
        }
        let typeText = try reader.string(typeNode, key: "\(key).type")
        guard let type = ParameterType(rawValue: typeText) else {
            throw reader.error(
                typeNode, key: "\(key).type", "must be one of \(ParameterType.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(typeText)\"")
        }
        var minimum: Double?
        if let minNode = keys["min"] {
            guard type == .int || type == .double else {
                throw reader.error(minNode, key: "\(key).min", "applies to int and double parameters only")
            }
            minimum = try reader.double(minNode, key: "\(key).min", minimum: -Double.greatestFiniteMagnitude)
        }
        var defaultValue: ArgumentValue?
        if let defaultNode = keys["default"] {
            let text = try reader.string(defaultNode, key: "\(key).default")
            guard let value = type.parse(text) else {
                throw reader.error(defaultNode, key: "\(key).default", "must be \(type.expectation) for a \(type.rawValue) parameter, got \"\(text)\"")
            }
            if let minimum, let number = value.doubleValue, number < minimum {
                throw reader.error(defaultNode, key: "\(key).default", "is below min (\(minimum))")
            }
            defaultValue = value
        }
        let description = try keys["description"].map { try reader.string($0, key: "\(key).description") }
        return TaskParameter(name, type, default: defaultValue, minimum: minimum, description: description)
    }
}

/// Typed reads of YAML nodes, each failing with the key and the line.
struct NodeReader {
    let file: String?

    func error(_ node: Node, key: String, _ message: String, code: ConfigurationError.Code = .invalidValue) -> ConfigurationError {
        ConfigurationError(code, file: file, line: node.mark.map { $0.line }, key: key, message: message)
    }

    func mapping(_ node: Node, key: String, allowed: [String]) throws -> [String: Node] {
        guard let mapping = node.mapping else {
            throw error(node, key: key, "must be a mapping with keys \(allowed.joined(separator: ", "))")
        }
        var result: [String: Node] = [:]
        for (keyNode, value) in mapping {
            guard let name = keyNode.string else { throw error(keyNode, key: key, "keys must be strings") }
            let path = key.isEmpty ? name : "\(key).\(name)"
            guard allowed.contains(name) else {
                throw error(keyNode, key: path, "unknown key; allowed here: \(allowed.joined(separator: ", "))", code: .unknownKey)
            }
            guard result[name] == nil else { throw error(keyNode, key: path, "is given twice") }
            result[name] = value
        }
        return result
    }

    func string(_ node: Node, key: String) throws -> String {
        guard let scalar = node.scalar else { throw error(node, key: key, "must be a single value, not a list or mapping") }
        return scalar.string
    }

    func optionalString(_ node: Node, key: String) throws -> String? {
        if node.null != nil { return nil }
        return try string(node, key: key)
    }

    func int(_ node: Node, key: String, range: ClosedRange<Int>) throws -> Int {
        let text = try string(node, key: key)
        guard let value = Int(text.replacingOccurrences(of: "_", with: "")), range.contains(value) else {
            throw error(node, key: key, "must be a whole number \(describe(range)), got \"\(text)\"")
        }
        return value
    }

    func optionalInt(_ node: Node, key: String, range: ClosedRange<Int>) throws -> Int? {
        if node.null != nil { return nil }
        return try int(node, key: key, range: range)
    }

    func double(_ node: Node, key: String, minimum: Double) throws -> Double {
        let text = try string(node, key: key)
        guard let value = Double(text.replacingOccurrences(of: "_", with: "")), value.isFinite, value >= minimum else {
            throw error(node, key: key, "must be a number ≥ \(minimum == -Double.greatestFiniteMagnitude ? "any" : "\(minimum)"), got \"\(text)\"")
        }
        return value
    }

    func optionalDouble(_ node: Node, key: String, minimum: Double) throws -> Double? {
        if node.null != nil { return nil }
        return try double(node, key: key, minimum: minimum)
    }

    /// A group name or numeric id that exists on this system, kept as written; null: nil.
    func optionalGroup(_ node: Node, key: String) throws -> String? {
        guard let group = try optionalString(node, key: key) else { return nil }
        guard SystemAccounts.groupID(group) != nil else { throw unknownAccount(node, key: key, kind: "group", group) }
        return group
    }

    /// A list of user or group names or numeric ids, each resolved through `resolve`; null: nil.
    func optionalAccounts(_ node: Node, key: String, kind: String, resolve: (String) -> UInt32?) throws -> [UInt32]? {
        if node.null != nil { return nil }
        guard let sequence = node.sequence else {
            throw error(node, key: key, "must be a list of \(kind) names or numeric ids, e.g. [alice, 1001]")
        }
        return try sequence.enumerated().map { index, item in
            let text = try string(item, key: "\(key)[\(index)]")
            guard let id = resolve(text) else { throw unknownAccount(item, key: "\(key)[\(index)]", kind: kind, text) }
            return id
        }
    }

    private func unknownAccount(_ node: Node, key: String, kind: String, _ name: String) -> ConfigurationError {
        error(node, key: key, "no \(kind) named \"\(name)\" on this system (give a \(kind) name or a numeric id)")
    }

    func bool(_ node: Node, key: String) throws -> Bool {
        let text = try string(node, key: key)
        guard case .bool(let value)? = ParameterType.bool.parse(text) else {
            throw error(node, key: key, "must be true or false, got \"\(text)\"")
        }
        return value
    }

    private func describe(_ range: ClosedRange<Int>) -> String {
        range.upperBound == Int.max ? "≥ \(range.lowerBound)" : "from \(range.lowerBound) to \(range.upperBound)"
    }
}
