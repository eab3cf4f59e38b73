import Logging

/// Everything `pybgd` can be told, with the defaults it uses when the config file is silent.
/// `config/pybgd.yaml` documents each key; ``ConfigurationLoader`` reads and checks it.
public struct DaemonConfiguration: Sendable {
    /// The `socket:` section.
    public struct Socket: Sendable, Hashable {
        /// nil: `$RUNTIME_DIRECTORY/pybgd.sock`, else `$XDG_RUNTIME_DIR/pybgd.sock`, else `/tmp/pybgd-UID/pybgd.sock`.
        public var path: String?
        /// Permission bits of the socket file: 0o600 (owner only) or 0o660 (owner and `group`).
        public var mode: UInt16 = 0o600
        /// The group given access with mode 0o660.
        public var group: String?

        public init() {}
    }

    /// The `access:` section: who may use the control socket, checked against the peer's
    /// credentials (SO_PEERCRED) on every connection, on top of the socket file's mode. Root and
    /// the daemon's own user always may; anyone else gets `ERR permission-denied`.
    public struct Access: Sendable, Hashable {
        /// Further users allowed (uids; the config file takes names too); nil: none.
        public var allowUsers: [UInt32]?
        /// Groups whose members are allowed, as primary or supplementary group (gids; the config
        /// file takes names too); nil: the socket's group when `socket.mode` is 0660, else none.
        public var allowGroups: [UInt32]?

        public init() {}
    }

    /// The `scheduler:` section.
    public struct Scheduler: Sendable, Hashable {
        /// Worker threads; nil: the number of active processor cores.
        public var maxWorkers: Int?
        /// Ended tasks kept in the tables (oldest dropped first); nil: all, which grows without end.
        public var keepFinished: Int? = 10_000
        /// Ended tasks older than this are dropped from the tables; nil: no age limit.
        public var keepFinishedSeconds: Double?
        /// Tasks allowed to wait for a worker; a SUBMIT past it gets `ERR queue-full`.
        public var maxPending = 100_000
        /// Tasks allowed to wait for their time (`SUBMIT in=…`/`at=…`); past it, `ERR queue-full`.
        public var maxScheduled = 100_000
        /// How long a KILL of a running task waits for it to end before it answers `still-running`
        /// (a command gets SIGTERM at once and SIGKILL 2 s later, so it ends well within this).
        public var killGraceSeconds: Double = 10

        public init() {}
    }

    /// The `state:` section: where the task tables survive restarts.
    public struct State: Sendable, Hashable {
        /// How the tables are kept.
        public enum Store: String, Sendable, Hashable {
            /// A SQLite file: submissions are acknowledged once on disk, and a restart recovers them.
            case sqlite
            /// Memory only: faster, and everything is lost when the daemon stops.
            case memory
            /// A PostgreSQL database that several pybgd hosts share (`url`): a task submitted on
            /// any host runs on one host that has it registered, under a lease.
            case postgresql
        }

        public var store = Store.sqlite
        /// The SQLite file; nil: ``defaultPath(environment:userID:)``.
        public var path: String?
        /// A group given read access to a new store (files 0640, directory 0750); nil: only pybgd's
        /// user (0600 and 0700), whatever the umask.
        public var group: String?
        /// `store: postgresql`: the database, a `postgres://` URL without a password.
        public var url: String?
        /// `store: postgresql`: a file whose first line is the database password; nil: the
        /// `PYBGD_DATABASE_PASSWORD` variable, or none.
        public var passwordFile: String?
        /// `store: postgresql`: this host's name in the cluster; nil: the machine's hostname.
        /// Two live daemons must never share one.
        public var hostName: String?
        /// `store: postgresql`: how long a claimed task stays this host's without a renewal.
        public var leaseSeconds: Double = 15
        /// `store: postgresql`: a task whose host died with it this many times is quarantined.
        public var crashLimit = 3
        /// `store: postgresql`: the most tasks claimed beyond the free workers, so that a worker
        /// finds the next task at hand: about 100 ms of this host's recent throughput, up to this
        /// (short tasks by the thousand, long ones hardly ahead); other hosts cannot take them.
        /// 3000: against 1000, the drain of 20,000 no-op tasks ran 15% and 19% faster (two runs
        /// of interleaved rounds); the 100 ms bound, not this, keeps a host from hoarding.
        public var prefetch = 3000
        /// `store: postgresql`: how often an idle host looks for due tasks when no notification
        /// came (tasks submitted for later, a lost notification).
        public var pollSeconds: Double = 2

        public init() {}

        /// `$STATE_DIRECTORY/pybgd.sqlite` (systemd's StateDirectory=), else `/var/lib/pybgd/pybgd.sqlite`
        /// for root, else `$XDG_STATE_HOME/pybgd/pybgd.sqlite`, else `~/.local/state/pybgd/pybgd.sqlite`.
        public static func defaultPath(environment: [String: String], userID: UInt32) -> String {
            // systemd may pass several directories separated by colons; the first is ours.
            if let directories = environment["STATE_DIRECTORY"], let first = directories.split(separator: ":").first {
                return "\(first)/pybgd.sqlite"
            }
            if userID == 0 { return "/var/lib/pybgd/pybgd.sqlite" }
            if let state = environment["XDG_STATE_HOME"], state.hasPrefix("/") { return "\(state)/pybgd/pybgd.sqlite" }
            return "\(environment["HOME"] ?? "/tmp")/.local/state/pybgd/pybgd.sqlite"
        }
    }

    /// The `server:` section.
    public struct Server: Sendable, Hashable {
        /// Client connections held at once; one more is told `ERR too-many-connections` and closed.
        public var maxConnections = 256
        /// Longest request line in bytes, line feed excluded; a longer one gets `ERR line-too-long`.
        public var maxLineBytes = 64 * 1024
        /// A connection with no complete request for this long is closed; nil: never. A connection
        /// waiting on WAIT is not idle.
        public var idleTimeoutSeconds: Double? = 300

        public init() {}
    }

    /// The `shutdown:` section.
    public struct Shutdown: Sendable, Hashable {
        /// How long a graceful shutdown lets queued and running tasks finish before cancelling them.
        public var timeoutSeconds: Double = 30

        public init() {}
    }

    /// Where and how the control socket is made.
    public var socket = Socket()
    /// Who may connect.
    public var access = Access()
    /// Workers, retention and the queue limit.
    public var scheduler = Scheduler()
    /// Where the task tables are kept.
    public var state = State()
    /// Connection limits.
    public var server = Server()
    /// The graceful shutdown.
    public var shutdown = Shutdown()
    /// The least severe level logged (`log.level`).
    public var logLevel: Logger.Level = .info
    /// Log each accepted submission at info level with the peer's uid and pid (`log.submissions`).
    public var logSubmissions = true
    /// How log lines are written: `text` (swift-log's stream handler) or `json` (``JSONLogHandler``).
    public var logFormat = LogFormat.text

    /// `log.format`.
    public enum LogFormat: String, Sendable, Hashable, CaseIterable {
        case text, json
    }

    /// Tasks' stdout and stderr as `pybgctl log` and `follow` show them.
    public var output = Output()
    /// The event stream (`EVENTS`, `pybgctl watch`).
    public var events = Events()

    /// The HTTP listener: Prometheus metrics and the dashboard.
    public var http = HTTP()

    /// `http:`. Off unless `listen` is set.
    public struct HTTP: Sendable, Hashable {
        /// Where it listens: `HOST:PORT` (`127.0.0.1:9464`, `[::1]:9464`) or the path of a Unix
        /// socket; nil: no listener.
        public var listen: Listen?
        /// Whether a non-loopback address may be bound (it needs `token` too).
        public var allowRemote = false
        /// The bearer token every request must carry (`Authorization: Bearer …`, or `?token=`
        /// for the dashboard's page and event stream); nil: none asked.
        public var token: String?

        /// An address `http.listen` names.
        public enum Listen: Sendable, Hashable, CustomStringConvertible {
            case tcp(host: String, port: Int)
            case unix(path: String)

            public var description: String {
                switch self {
                case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
                case .unix(let path): path
                }
            }

            /// Loopback addresses and Unix sockets: reachable from this machine only.
            public var isLocal: Bool {
                switch self {
                case .unix: true
                case .tcp(let host, _): host == "localhost" || host == "::1" || host.hasPrefix("127.")
                }
            }

            /// `HOST:PORT`, `[IPV6]:PORT` or an absolute path; nil for anything else.
            public init?(parsing text: String) {
                if text.hasPrefix("/") {
                    self = .unix(path: text)
                    return
                }
                let host: Substring
                let port: Substring
                if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
                    host = text[text.index(after: text.startIndex)..<close]
                    let rest = text[text.index(after: close)...]
                    guard rest.hasPrefix(":") else { return nil }
                    port = rest.dropFirst()
                } else {
                    guard let colon = text.lastIndex(of: ":") else { return nil }
                    host = text[..<colon]
                    port = text[text.index(after: colon)...]
                    if host.contains(":") { return nil }
                }
                guard !host.isEmpty, let number = Int(port), (1...65535).contains(number) else { return nil }
                self = .tcp(host: String(host), port: number)
            }
        }

        public init() {}
    }

    /// `output:`.
    public struct Output: Sendable, Hashable {
        /// Bytes kept of each stream of each task (`output.max_bytes`); past it the middle is
        /// dropped (the first half and the last quarter or more are kept). 0 keeps none.
        public var maxBytes = 10 << 20

        public init() {}
    }

    /// `events:`.
    public struct Events: Sendable, Hashable {
        /// Events held for a reader that does not keep up before some are dropped (`events.buffer`).
        public var buffer = 10_000
        /// What a reader that fell behind gets (`events.on_lag`).
        public var onLag = LagPolicy.skip

        /// `events.on_lag`: `skip` (a `lagged` event with the count, then the events from there
        /// on) or `close` (a `lagged` event, then the connection ends).
        public enum LagPolicy: String, Sendable, Hashable, CaseIterable {
            case skip, close
        }

        public init() {}
    }
    /// A named queue of `queues:`: at most `maxRunning` of its tasks run at once (nil: as many as
    /// there are workers). `default` always exists; naming it here sets its limit.
    public struct Queue: Sendable, Hashable {
        public var name: String
        public var maxRunning: Int?

        public init(name: String, maxRunning: Int?) {
            self.name = name
            self.maxRunning = maxRunning
        }
    }

    /// The queues of `queues:`, in file order.
    public var queues: [Queue] = []

    /// The command tasks, in the order the file lists them.
    public var commands: [CommandTaskDefinition] = []
    /// The recurring schedules of `schedules:`, in file order; reconciled at start and on reload.
    public var schedules: [ConfiguredSchedule] = []

    public init() {}

    /// Checks each queue's limit against the number of workers (known only at start when
    /// `max_workers` is null).
    public func checkQueues(workers: Int) throws(ConfigurationError) {
        for queue in queues {
            if let limit = queue.maxRunning, limit > workers {
                throw ConfigurationError(
                    .invalidValue, file: nil, line: nil, key: "queues.\(queue.name).max_running",
                    message: "is \(limit), more than the \(workers) workers; at most \(workers) (or null: as many as there are workers)")
            }
        }
    }

    /// The built-in tasks plus the command tasks.
    public func makeRegistry() throws(ConfigurationError) -> TaskRegistry {
        var registry = TaskRegistry.builtins
        let queueNames = Set(queues.map(\.name) + ["default"])
        for command in commands {
            if let queue = command.policy.queue, !queueNames.contains(queue) {
                throw ConfigurationError(
                    .invalidValue, file: nil, line: nil, key: "tasks.\(command.name).queue",
                    message: "no queue named \"\(queue)\" in queues: (\(queueNames.sorted().joined(separator: ", ")))")
            }
            do {
                try registry.register(command.registeredTask)
            } catch {
                throw ConfigurationError(.invalidValue, file: nil, line: nil, key: "tasks.\(command.name)", message: error.message)
            }
        }
        return registry
    }
}

/// A config file that cannot be used: the file, the line, the key, and what is allowed there.
public struct ConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of mistake: stable, safe to match on.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The file cannot be read (missing, no permission).
        public static let unreadable = Code("unreadable")
        /// The text is not YAML (a key given twice in one mapping is a YAML error too).
        public static let invalidYAML = Code("invalid-yaml")
        /// A key that is not one of those allowed at its place (a typo, usually).
        public static let unknownKey = Code("unknown-key")
        /// A required key is absent.
        public static let missingKey = Code("missing-key")
        /// A value of the wrong type, out of range, or not one of those allowed.
        public static let invalidValue = Code("invalid-value")
    }

    /// What is wrong, for programs.
    public let code: Code
    /// The config file, when there is one.
    public let file: String?
    /// The line (1-based) of the offending key, when known.
    public let line: Int?
    /// The key path, e.g. `tasks[0].argv`; empty for the file as a whole.
    public let key: String
    /// What is wrong and what is allowed.
    public let message: String

    /// An error at a place in a config file.
    public init(_ code: Code, file: String?, line: Int?, key: String, message: String) {
        self.code = code
        self.file = file
        self.line = line
        self.key = key
        self.message = message
    }

    public var description: String {
        let place = [file, line.map { "\($0)" }].compactMap { $0 }.joined(separator: ":")
        return (place.isEmpty ? "" : "\(place): ") + (key.isEmpty ? "" : "\(key): ") + message
    }
}
