import ArgumentParser
import Logging
import PyBackgroundDaemon
import PyBackgroundPostgres
import PyBackgroundProtocol
import ServiceLifecycle

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

@main
struct PybgdCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pybgd",
        abstract: "The PyBackground daemon: runs registered tasks on a thread pool, controlled over a Unix socket.",
        discussion: """
            Runs in the foreground and logs to stderr (journald reads it under systemd). Clients talk to it \
            with pybgctl, or by hand: socat - UNIX-CONNECT:PATH, one request per line (see PROTOCOL.md).

            SIGTERM, SIGINT and the SHUTDOWN request stop it gracefully: no new tasks, running ones finish \
            within shutdown.timeout_seconds, then the socket file is removed. SIGHUP reloads the command \
            tasks from the config file (a bad file is refused and logged; the old tasks stay).

            Under systemd (Type=notify) it reports READY=1 once the socket accepts connections, STATUS= \
            with live counts, STOPPING=1, RELOADING=1, and WATCHDOG=1 keep-alives when WatchdogSec= is \
            set; started by pybgd.socket it serves the socket systemd passes (LISTEN_FDS).

            The task tables are kept in a SQLite state store (--state, state.path; under systemd \
            $STATE_DIRECTORY/pybgd.sqlite): a submission is acknowledged once it is on disk, and a restart \
            runs pending tasks again, marks tasks that were running as interrupted (or runs them again \
            when declared retry_if_interrupted), and keeps the history.

            Who may connect: the socket file's mode (0600, or 0660 with socket.group), then on every \
            connection the client's uid and groups as the kernel reports them (SO_PEERCRED): root, pybgd's \
            own user, access.allow_users and access.allow_groups. Others get ERR permission-denied and are \
            logged with their uid and pid; so is each accepted submission.

            Exit status: 0 after a graceful shutdown, 78 for a config error (--check-config finds every \
            one, and warns of programs and directories that are missing here), 69 when the socket or \
            the HTTP listener's address cannot be used (another pybgd on it, no permission) or \
            pybgd-exec is not installed beside pybgd, 74 when the state store cannot be used (damaged, \
            unreadable, or held by another pybgd; it is left \
            untouched) or could not take the ends of tasks that ran before the shutdown, 1 otherwise.

            Command tasks run under pybgd-exec, each in a session and process group of its own: a \
            timeout, a cancel, the shutdown, or pybgd's own death (even by SIGKILL) stops every process \
            of the task, SIGTERM then SIGKILL 2 s later.
            """,
        version: PyBackgroundVersion.current)

    @Option(name: .long, help: ArgumentHelp("The config file (YAML); without it, every default applies.", valueName: "file"))
    var config: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The control socket. Default: socket.path from the config, else $RUNTIME_DIRECTORY/pybgd.sock, else $XDG_RUNTIME_DIR/pybgd.sock, else /tmp/pybgd-UID/pybgd.sock.",
            valueName: "path"))
    var socket: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The state store file, \"memory\" to keep nothing across restarts, or a postgres:// URL of a database several pybgd hosts share (overrides state.store and its file or URL). Default: $STATE_DIRECTORY/pybgd.sqlite, else /var/lib/pybgd/pybgd.sqlite for root, else $XDG_STATE_HOME/pybgd/pybgd.sqlite, else ~/.local/state/pybgd/pybgd.sqlite.",
            valueName: "path|memory|url"))
    var state: String?

    @Option(name: .long, help: ArgumentHelp("Worker threads (overrides scheduler.max_workers). Default: the active cores.", valueName: "n"))
    var maxWorkers: Int?

    @Option(name: .long, help: ArgumentHelp("Log level (overrides log.level): trace, debug, info, notice, warning, error, critical.", valueName: "level"))
    var logLevel: String?

    @Flag(name: .long, help: "Check the config file, print what it declares, and exit.")
    var checkConfig = false

    func validate() throws {
        if let maxWorkers, maxWorkers < 1 || maxWorkers > 4096 {
            throw ValidationError("--max-workers must be from 1 to 4096, got \(maxWorkers)")
        }
        if let logLevel, Logger.Level(rawValue: logLevel.lowercased()) == nil {
            throw ValidationError("--log-level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(logLevel)\"")
        }
    }

    func run() async throws {
        var configuration = DaemonConfiguration()
        let registry: TaskRegistry
        do {
            if let config { configuration = try ConfigurationLoader.load(path: config) }
            registry = try configuration.makeRegistry()
        } catch {
            fail("config error: \(error)", status: 78)
        }
        if let maxWorkers { configuration.scheduler.maxWorkers = maxWorkers }
        do {
            try configuration.checkQueues(workers: configuration.scheduler.maxWorkers ?? max(1, ProcessInfo.processInfo.activeProcessorCount))
        } catch {
            fail("config error: \(error)", status: 78)
        }
        if let logLevel { configuration.logLevel = Logger.Level(rawValue: logLevel.lowercased())! }
        if let state {
            if state == "memory" {
                configuration.state.store = .memory
            } else if state.hasPrefix("postgres://") || state.hasPrefix("postgresql://") {
                do {
                    _ = try PostgresSettings.parse(url: state, passwordFile: configuration.state.passwordFile)
                } catch {
                    fail("--state: \(error)", status: 78)
                }
                configuration.state.store = .postgresql
                configuration.state.url = state
            } else {
                configuration.state.store = .sqlite
                configuration.state.path = state
            }
        }

        let warnings = ConfigurationWarnings.of(configuration, path: ProcessInfo.processInfo.environment["PATH"])
        if checkConfig {
            print("\(config ?? "(no config file: defaults)"): OK")
            for task in registry.tasks {
                print("  \(task.name) [\(task.kind.rawValue)] \(task.parameters.map(\.signature).joined(separator: " "))")
            }
            for warning in warnings { print("warning: \(warning)") }
            return
        }

        let level = configuration.logLevel
        switch configuration.logFormat {
        case .text:
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        case .json:
            LoggingSystem.bootstrap { label in
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
        }
        let logger = Logger(label: "pybgd")
        for warning in warnings { logger.warning("\(warning)") }
        let environment = ProcessInfo.processInfo.environment
        let path = socket ?? configuration.socket.path ?? SocketPath.default(environment: environment, uid: getuid())
        let daemon: Daemon
        do {
            daemon = try Daemon(
                configuration: configuration, configurationPath: config, socketPath: path,
                registry: registry, logger: logger)
        } catch {
            logger.critical("\(error.message)")
            Glibc.exit(Self.exitStatus(error.code))
        }
        // The daemon also ends by itself (the SHUTDOWN request): that is a success, not a failure.
        var groupConfiguration = ServiceGroupConfiguration(
            services: [.init(service: daemon, successTerminationBehavior: .gracefullyShutdownGroup)],
            logger: logger)
        groupConfiguration.gracefulShutdownSignals = [.sigterm, .sigint]
        let group = ServiceGroup(configuration: groupConfiguration)
        do {
            try await group.run()
        } catch let error as DaemonError {
            // Logged once, on stderr like every log line: not printed a second time.
            logger.critical("\(error.message)")
            Glibc.exit(Self.exitStatus(error.code))
        }
    }

    private static func exitStatus(_ code: DaemonError.Code) -> Int32 {
        switch code {
        case .configuration: 78  // EX_CONFIG
        case .stateStore: 74  // EX_IOERR
        default: 69  // EX_UNAVAILABLE
        }
    }

    private func fail(_ message: String, status: Int32) -> Never {
        let line = Array("pybgd: \(message)\n".utf8)
        _ = line.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
        Glibc.exit(status)
    }
}
