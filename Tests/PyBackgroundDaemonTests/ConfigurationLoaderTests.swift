import Foundation
import PyBackground
import PyBackgroundProtocol
import PyBackgroundTesting
import Testing

@testable import PyBackgroundDaemon

@Suite("Configuration loading")
struct ConfigurationLoaderTests {
    @Test("an empty file gives every default")
    func emptyFileGivesDefaults() throws {
        let configuration = try ConfigurationLoader.parse("")
        #expect(configuration.socket.mode == 0o600 && configuration.socket.path == nil)
        #expect(configuration.scheduler.keepFinished == 10_000 && configuration.scheduler.maxPending == 100_000)
        #expect(configuration.server.maxLineBytes == 65_536 && configuration.server.maxConnections == 256)
        #expect(configuration.shutdown.timeoutSeconds == 30)
        #expect(configuration.commands.isEmpty)
    }

    @Test("the shipped config/pybgd.yaml loads and declares its example tasks")
    func shippedConfigLoads() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("config/pybgd.yaml").path
        let configuration = try ConfigurationLoader.load(path: path)
        #expect(configuration.commands.map(\.name) == ["echo", "disk-usage"])
        #expect(configuration.queues == [DaemonConfiguration.Queue(name: "disk", maxRunning: 1)])
        let usage = configuration.commands[1].policy
        #expect(usage.queue == "disk" && usage.retry?.maxAttempts == 3 && usage.retry?.codes == ["exit-status", "timed-out", "interrupted"])
        #expect(usage.retry?.backoff == .exponential(base: .seconds(2), maxDelay: .seconds(60), jitter: 0.1) && usage.timeoutSeconds == 60)
        #expect(try configuration.makeRegistry().names.contains("echo"))
        #expect(configuration.schedules.map(\.name) == ["heartbeat", "nightly-usage"])
        #expect(configuration.schedules[0].spec == ScheduleSpec(trigger: .every(.seconds(300)), overlap: .skip, task: "noop"))
        #expect(
            configuration.schedules[1].spec == ScheduleSpec(trigger: .cron("30 2 * * *"), timeZone: "UTC", task: "disk-usage", arguments: ["path=/var/tmp"]))
    }

    @Test("every key is read", arguments: [0])
    func readsEveryKey(_: Int) throws {
        let configuration = try ConfigurationLoader.parse(
            """
            socket: {path: /run/x.sock, mode: "0660", group: root}
            access: {allow_users: [root, 1234], allow_groups: [nogroup, "42"]}
            scheduler: {max_workers: 3, keep_finished: null, max_pending: 5, kill_grace_seconds: 2.5}
            queues:
              default: {max_running: 2}
              io: {max_running: null}
              net:
            server: {max_connections: 2, max_line_bytes: 128, idle_timeout_seconds: null}
            shutdown: {timeout_seconds: 1.5}
            log: {level: DEBUG, submissions: false, format: json}
            tasks:
              - name: copy
                description: copy a file
                argv: [cp, "{from}", "{to}"]
                parameters:
                  - {name: from, type: string}
                  - {name: to, type: string, default: /tmp}
                  - {name: times, type: int, default: 2, min: 1, description: how often}
                timeout_seconds: 9
                working_directory: /srv
                environment: {LANG: C}
                inherit_environment: false
                max_output_bytes: 10
                queue: io
                priority: -7
                retry: {max_attempts: 4, backoff: fixed, base: 250ms, max_delay: 10, jitter: 0, codes: [exit-status]}
            """)
        #expect(
            configuration.socket
                == {
                    var socket = DaemonConfiguration.Socket()
                    socket.path = "/run/x.sock"
                    socket.mode = 0o660
                    socket.group = "root"
                    return socket
                }())
        #expect(configuration.scheduler.maxWorkers == 3 && configuration.scheduler.keepFinished == nil && configuration.scheduler.maxPending == 5)
        #expect(configuration.server.maxConnections == 2 && configuration.server.maxLineBytes == 128 && configuration.server.idleTimeoutSeconds == nil)
        #expect(configuration.access.allowUsers == [0, 1234] && configuration.access.allowGroups == [65534, 42])
        #expect(configuration.shutdown.timeoutSeconds == 1.5 && configuration.logLevel == .debug && !configuration.logSubmissions)
        let copy = try #require(configuration.commands.first)
        #expect(copy.parameters.map(\.signature) == ["from:string", "to:string=/tmp", "times:int=2"])
        #expect(copy.timeoutSeconds == 9 && copy.workingDirectory == "/srv" && copy.environment == ["LANG": "C"])
        #expect(!copy.inheritEnvironment && copy.maxOutputBytes == 10)
        #expect(configuration.scheduler.killGraceSeconds == 2.5 && configuration.logFormat == .json)
        #expect(configuration.queues.map(\.name) == ["default", "io", "net"] && configuration.queues.map(\.maxRunning) == [2, nil, nil])
        #expect(
            copy.policy
                == TaskPolicy(
                    queue: "io", priority: -7, timeoutSeconds: 9,
                    retry: RetrySettings(maxAttempts: 4, backoff: Backoff(.fixed, base: .milliseconds(250), maxDelay: .seconds(10)), codes: ["exit-status"])))
    }

    @Test(
        "errors name the line, the key and what is allowed",
        arguments: [
            ("sockt: {}", 1, "sockt", "unknown key; allowed here: socket, access, scheduler", .unknownKey),
            (
                "access:\n  allow_users: [root, no-such-user-here]", 2, "access.allow_users[1]", "no user named \"no-such-user-here\" on this system",
                .invalidValue
            ),
            ("access:\n  allow_groups: wheel", 2, "access.allow_groups", "must be a list of group names or numeric ids", .invalidValue),
            ("scheduler:\n  max_workers: 0", 2, "scheduler.max_workers", "from 1 to 4096", .invalidValue),
            ("scheduler:\n  max_pending: lots", 2, "scheduler.max_pending", "whole number", .invalidValue),
            ("socket:\n  mode: \"0644\"", 2, "socket.mode", "\"0600\" (owner only) or \"0660\"", .invalidValue),
            ("socket:\n  mode: \"0660\"", 2, "socket.group", "name the group", .invalidValue),
            ("server:\n  max_line_bytes: 10", 2, "server.max_line_bytes", "from 64", .invalidValue),
            ("log:\n  level: loud", 2, "log.level", "must be one of trace", .invalidValue),
            ("log:\n  format: xml", 2, "log.format", "must be text or json", .invalidValue),
            ("tasks: {}", 1, "tasks", "must be a list", .invalidValue),
            ("schedules: {}", 1, "schedules", "must be a list of schedules", .invalidValue),
            ("schedules:\n  - {task: noop, every: 1m}", 2, "schedules[0].name", "is required", .missingKey),
            ("schedules:\n  - {name: a, task: noop}", 2, "schedules[0]", "needs every=SPAN", .invalidValue),
            ("schedules:\n  - {name: a, task: noop, every: 1m, misfire: later}", 2, "schedules[0]", "skip, once, all or all:N", .invalidValue),
            ("schedules:\n  - {name: a, task: noop, every: 1m, when: now}", 2, "schedules[0].when", "unknown key", .unknownKey),
            (
                "schedules:\n  - {name: a, task: noop, every: 1m}\n  - {name: a, task: noop, every: 2m}", 3, "schedules[1].name",
                "already the name of schedules[0]", .invalidValue
            ),
            ("tasks:\n  - argv: [x]", 2, "tasks[0].name", "is required", .missingKey),
            ("tasks:\n  - name: now\n    argv: [x]", 2, "tasks[0].name", "\"now\" is already taken by the built-in task of that name", .invalidValue),
            ("tasks:\n  - name: a\n    argv: []", 3, "tasks[0].argv", "non-empty list", .invalidValue),
            ("tasks:\n  - name: a\n    argv: [echo, \"{x}\"]", 3, "tasks[0].argv", "{x}, which is not a declared parameter", .invalidValue),
            (
                "tasks:\n  - name: a\n    argv: [x]\n    parameters:\n      - {name: n, type: float}", 5, "tasks[0].parameters[0].type",
                "int, double, string, bool", .invalidValue
            ),
            (
                "tasks:\n  - name: a\n    argv: [x]\n    parameters:\n      - {name: n, type: int, default: x}", 5, "tasks[0].parameters[0].default",
                "must be an integer", .invalidValue
            ),
            ("tasks:\n  - name: a\n    argv: [x]\n    timeout_seconds: -1", 4, "tasks[0].timeout_seconds", "must be a number", .invalidValue),
            (
                "tasks:\n  - name: a\n    argv: [x]\n  - name: a\n    argv: [y]", 4, "tasks[1].name", "\"a\" is already taken by tasks[0] (line 2)",
                .invalidValue
            ),
            (
                "socket:\n  mode: \"0660\"\n  group: no-such-group-here", 3, "socket.group", "no group named \"no-such-group-here\" on this system",
                .invalidValue
            ),
            ("state:\n  group: no-such-group-here", 2, "state.group", "no group named \"no-such-group-here\"", .invalidValue),
            ("state:\n  store: mysql", 2, "state.store", "\"postgresql\" (shared by several hosts, with state.url)", .invalidValue),
            ("state:\n  store: postgresql", 2, "state.url", "needs state.url, a postgres:// URL", .missingKey),
            ("state:\n  url: postgres://pybgd@db/jobs", 2, "state.url", "is for state.store: postgresql; the store is sqlite", .invalidValue),
            ("state:\n  store: postgresql\n  url: mysql://db/jobs", 3, "state.url", "must start with postgres://", .invalidValue),
            ("state:\n  store: postgresql\n  url: postgres://pybgd:secret@db/jobs", 3, "state.url", "password", .invalidValue),
            ("state:\n  store: postgresql\n  url: postgres://pybgd@db/jobs\n  lease_seconds: 0.5", 4, "state.lease_seconds", "must be a number", .invalidValue),
            ("state:\n  store: postgresql\n  url: postgres://pybgd@db/jobs\n  crash_limit: 0", 4, "state.crash_limit", "from 1 to 1000", .invalidValue),
            ("state:\n  store: postgresql\n  url: postgres://pybgd@db/jobs\n  host_name: \"a b\"", 4, "state.host_name", "without spaces", .invalidValue),
            ("state:\n  store: postgresql\n  url: postgres://pybgd@db/jobs\n  prefetch: -1", 4, "state.prefetch", "from 0 to 10000", .invalidValue),
            (
                "socket:\n  path: /\(String(repeating: "x", count: 120))", 2, "socket.path", "is 121 bytes; a Unix socket's path may have at most 107",
                .invalidValue
            ),
            ("scheduler: [1, 2]", 1, "scheduler", "must be a mapping", .invalidValue),
            ("queues: [io]", 1, "queues", "must be a mapping of queue name", .invalidValue),
            ("queues:\n  -io: {max_running: 1}", 2, "queues.-io", "is not a queue name", .invalidValue),
            ("queues:\n  io: {max_running: 0}", 2, "queues.io.max_running", "from 1 to 4096", .invalidValue),
            ("queues:\n  io: {limit: 1}", 2, "queues.io.limit", "unknown key", .unknownKey),
            ("tasks:\n  - name: a\n    argv: [x]\n    priority: high", 4, "tasks[0].priority", "whole number", .invalidValue),
            ("tasks:\n  - name: a\n    argv: [x]\n    retry: {backoff: fixed}", 4, "tasks[0].retry.max_attempts", "is required", .missingKey),
            ("tasks:\n  - name: a\n    argv: [x]\n    retry: {max_attempts: 0}", 4, "tasks[0].retry.max_attempts", "from 1 to 1000", .invalidValue),
            (
                "tasks:\n  - name: a\n    argv: [x]\n    retry: {max_attempts: 2, backoff: linear}", 4, "tasks[0].retry.backoff", "exponential or fixed",
                .invalidValue
            ),
            (
                "tasks:\n  - name: a\n    argv: [x]\n    retry: {max_attempts: 2, base: soon}", 4, "tasks[0].retry.base", "is not a length of time",
                .invalidValue
            ),
            (
                "tasks:\n  - name: a\n    argv: [x]\n    retry: {max_attempts: 2, base: 10s, max_delay: 1s}", 4, "tasks[0].retry.max_delay", "at least base",
                .invalidValue
            ),
            ("tasks:\n  - name: a\n    argv: [x]\n    retry: {max_attempts: 2, jitter: 2}", 4, "tasks[0].retry.jitter", "fraction from 0 to 1", .invalidValue),
            (
                "tasks:\n  - name: a\n    argv: [x]\n    retry: {max_attempts: 2, codes: exit-status}", 4, "tasks[0].retry.codes", "list of failure codes",
                .invalidValue
            ),
            ("scheduler:\n  kill_grace_seconds: 0", 2, "scheduler.kill_grace_seconds", "must be a number", .invalidValue),
            ("key: [unclosed", nil, "", "not valid YAML", .invalidYAML),
            ("scheduler:\n  max_workers: 1\n  max_workers: 2", nil, "", "duplicated key", .invalidYAML),
        ] as [(String, Int?, String, String, ConfigurationError.Code)])
    func refuses(yaml: String, line: Int?, key: String, fragment: String, code: ConfigurationError.Code) {
        #expect { try ConfigurationLoader.parse(yaml, file: "test.yaml") } throws: { error in
            guard let error = error as? ConfigurationError else { return false }
            return error.code == code && error.file == "test.yaml" && error.line == line && error.key == key && error.message.contains(fragment)
        }
    }

    @Test("state.store postgresql reads its URL, host name, lease and limits")
    func sharedStoreKeys() throws {
        let configuration = try ConfigurationLoader.parse(
            """
            state:
              store: postgresql
              url: postgres://pybgd@db.internal:5432/jobs?sslmode=verify-full
              password_file: /etc/pybgd/db-password
              host_name: worker-7
              lease_seconds: 30
              crash_limit: 5
              prefetch: 0
              poll_seconds: 0.5
            """)
        let state = configuration.state
        #expect(state.store == .postgresql && state.url == "postgres://pybgd@db.internal:5432/jobs?sslmode=verify-full")
        #expect(state.passwordFile == "/etc/pybgd/db-password" && state.hostName == "worker-7")
        #expect(state.leaseSeconds == 30 && state.crashLimit == 5 && state.prefetch == 0 && state.pollSeconds == 0.5)
        let defaults = DaemonConfiguration.State()
        #expect(defaults.leaseSeconds == 15 && defaults.crashLimit == 3 && defaults.hostName == nil)
    }

    @Test("a task's queue must be configured, and a queue's limit fit the workers")
    func queueChecks() throws {
        let unknown = try ConfigurationLoader.parse("tasks:\n  - name: a\n    argv: [x]\n    queue: io")
        #expect(throws: ConfigurationError.self) { try unknown.makeRegistry() }
        let tooWide = try ConfigurationLoader.parse("queues:\n  io: {max_running: 8}")
        #expect { try tooWide.checkQueues(workers: 4) } throws: { "\($0)".contains("queues.io.max_running") && "\($0)".contains("more than the 4 workers") }
        try tooWide.checkQueues(workers: 8)
    }

    @Test("a YAML error is one line: position and reason, without the excerpt and its caret")
    func yamlErrorOnOneLine() {
        #expect { try ConfigurationLoader.parse("scheduler:\n  max_workers: [1\nfoo: bar: baz\n", file: "t.yaml") } throws: { error in
            guard let error = error as? ConfigurationError else { return false }
            return !error.description.contains("\n") && error.message.contains("did not find expected") && !error.message.contains("^")
        }
    }

    @Test("a missing file is reported with its path")
    func missingFile() {
        #expect { try ConfigurationLoader.load(path: "/nonexistent/pybgd.yaml") } throws: { error in
            guard let error = error as? ConfigurationError else { return false }
            return error.code == .unreadable && error.description.hasPrefix("/nonexistent/pybgd.yaml: cannot read")
        }
    }
}
