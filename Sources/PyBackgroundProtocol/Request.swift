/// One request of the control protocol: a line `VERB word…`, verbs case-insensitive.
///
/// ```swift
/// let request = try Request(parsing: "SUBMIT now 2")   // .submit(task: "now", arguments: ["2"])
/// request.line                                           // "SUBMIT now 2"
/// ```
/// See PROTOCOL.md for each verb's reply.
public enum Request: Hashable, Sendable {
    /// `PING`: is the daemon there.
    case ping
    /// `SUBMIT [option=value…] task [arg…] [key=value…]`: start a registered task; arguments stay
    /// as typed until the daemon checks them against the task's parameters. The options before the
    /// task name (``SubmitOptions``) say when it runs.
    case submit(task: String, arguments: [String], options: SubmitOptions = SubmitOptions())
    /// `STATUS`: counts, workers, uptime, latest id.
    case status
    /// `TASKS [limit|all]`: the task table, most recent `limit` (default 100).
    case tasks(limit: Limit)
    /// `FUTURES [limit|all]`: the future table, most recent `limit` (default 100).
    case futures(limit: Limit)
    /// `LATEST`: the latest task id.
    case latest
    /// `RESULT id`: one task's state and result, without waiting. The id may be a unique prefix.
    case result(id: String)
    /// `WAIT id [seconds]`: reply once the task has ended, or `ERR timed-out` after `seconds`.
    case wait(id: String, timeout: Double?)
    /// `CANCEL id`: cancel a task that is not running (scheduled, waiting, pending, retrying).
    case cancel(id: String)
    /// `KILL id`: stop a task whatever its state: one not running is cancelled; a running one is
    /// asked to stop (a command gets SIGTERM, then SIGKILL) and the reply comes once it ended, or
    /// `ERR still-running` if it does not within the daemon's kill grace.
    case kill(id: String)
    /// `RETRY id`: run an ended task again, as a new task that names the old (`retry_of`).
    case retry(id: String)
    /// `REMOVE id…`: remove chosen ended tasks from the tables.
    case remove(ids: [String])
    /// `QUEUES`: each queue's limit, state and counts.
    case queues
    /// `PAUSE queue`: start none of its tasks until RESUME; running ones finish.
    case pauseQueue(String)
    /// `RESUME queue`
    case resumeQueue(String)
    /// `LIST`: the registered tasks and their parameters.
    case list
    /// `CLEAN [seconds]`: remove ended tasks from the tables; with `seconds`, only those that
    /// ended longer ago than that.
    case clean(olderThan: Double?)
    /// `SHUTDOWN [wait|nowait]`: graceful shutdown; with `wait` (the default) the reply comes once
    /// every task has ended.
    case shutdown(wait: Bool)
    /// `SCHEDULE …`: add, list, show, pause, resume or remove a recurring schedule. Boxed: a
    /// schedule's definition is large, and every request (a SUBMIT above all) would be as large,
    /// copied through the connection's state machine (measured: 4% of the event loop in memmove).
    indirect case schedule(ScheduleRequest)
    /// `LOG id [stream=stdout|stderr|all]`: a task's output as kept so far, streamed as `OUT`
    /// lines, then `END`.
    case log(id: String, streams: OutputSelection)
    /// `FOLLOW id… [stream=…]`: tasks' output as it is written (what was written before first),
    /// an `ENDED` line as each ends, `END` once all have.
    case follow(ids: [String], streams: OutputSelection)
    /// `EVENTS [task=…] [queue=…] [id=…] [event=…]`: one `EVENT` line per state change until the
    /// client closes. Boxed: a filter is larger than a request may be.
    indirect case events(EventFilter)
    /// `HELP`: the verbs.
    case help

    /// How many table rows a TASKS or FUTURES request asks for.
    public enum Limit: Hashable, Sendable {
        case all
        case mostRecent(Int)

        /// The rows a table request gets without a limit: the 100 most recent.
        public static let `default` = Limit.mostRecent(100)
    }

    /// Every verb with its arguments, as HELP lists them.
    public static let synopsis: [String] = [
        "PING",
        "SUBMIT [in=span|at=time] [queue=name] [priority=n] [after=id,…] [attempts=n] [timeout=span] [unique=key] task [arg…] [key=value…] [-- value…]",
        "STATUS", "TASKS [limit|all]", "FUTURES [limit|all]",
        "LATEST", "RESULT id", "WAIT id [seconds]", "CANCEL id", "KILL id", "RETRY id", "REMOVE id…", "QUEUES", "PAUSE queue",
        "RESUME queue", "LIST", "CLEAN [seconds]", "SHUTDOWN [wait|nowait]",
        "SCHEDULE ADD name every=SPAN|cron=EXPR [tz=ZONE] [start=TIME] [misfire=skip|once|all[:N]] [overlap=allow|skip|queue] task [arg…]",
        "SCHEDULE LIST", "SCHEDULE SHOW|PAUSE|RESUME|REMOVE name",
        "LOG id [stream=stdout|stderr|all]", "FOLLOW id… [stream=stdout|stderr|all]",
        "EVENTS [task=name,…] [queue=name,…] [id=prefix] [event=kind,…]", "HELP",
    ]

    /// Parses one line (without its line feed; a trailing carriage return is ignored).
    public init(parsing line: Substring) throws(ProtocolError) {
        var line = line
        // A byte compare: `hasSuffix` went through a generic reversed walk, 2% of the event
        // loop's time under pipelined SUBMIT (perf, issue 20).
        if line.utf8.last == UInt8(ascii: "\r") { line = line.dropLast() }
        let words = try LineTokenizer.split(line)
        guard let verb = words.first else {
            throw ProtocolError(.badRequest, "empty request; verbs: \(Request.verbList)")
        }
        let arguments = Array(words.dropFirst())
        // Clients send verbs in capitals; only another spelling pays for uppercased().
        switch verb.utf8.allSatisfy({ $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) ? verb : verb.uppercased() {
        case "PING":
            try Request.expect(arguments, none: "PING")
            self = .ping
        case "SUBMIT":
            let (options, rest) = try SubmitOptions.take(from: arguments)
            guard let task = rest.first else {
                throw ProtocolError(.badRequest, "SUBMIT needs a task name: SUBMIT [option=value…] task [arg…] [key=value…]")
            }
            self = .submit(task: task, arguments: Array(rest.dropFirst()), options: options)
        case "STATUS":
            try Request.expect(arguments, none: "STATUS")
            self = .status
        case "TASKS": self = .tasks(limit: try Request.limit(arguments, verb: "TASKS"))
        case "FUTURES": self = .futures(limit: try Request.limit(arguments, verb: "FUTURES"))
        case "LATEST":
            try Request.expect(arguments, none: "LATEST")
            self = .latest
        case "RESULT": self = .result(id: try Request.id(arguments, usage: "RESULT id"))
        case "WAIT":
            guard arguments.count == 1 || arguments.count == 2 else {
                throw ProtocolError(.badRequest, "WAIT takes an id and optional seconds: WAIT id [seconds]")
            }
            var timeout: Double?
            if arguments.count == 2 {
                guard let seconds = Double(arguments[1]), seconds.isFinite, seconds >= 0 else {
                    throw ProtocolError(.badRequest, "WAIT timeout must be a number of seconds ≥ 0, got \"\(arguments[1])\"")
                }
                timeout = seconds
            }
            self = .wait(id: arguments[0], timeout: timeout)
        case "CANCEL": self = .cancel(id: try Request.id(arguments, usage: "CANCEL id"))
        case "KILL": self = .kill(id: try Request.id(arguments, usage: "KILL id"))
        case "RETRY": self = .retry(id: try Request.id(arguments, usage: "RETRY id"))
        case "REMOVE":
            guard !arguments.isEmpty, arguments.count <= Request.maxRemoveIDs else {
                throw ProtocolError(.badRequest, "REMOVE takes 1 to \(Request.maxRemoveIDs) task ids: REMOVE id…")
            }
            self = .remove(ids: arguments)
        case "QUEUES":
            try Request.expect(arguments, none: "QUEUES")
            self = .queues
        case "PAUSE": self = .pauseQueue(try Request.queueName(arguments, usage: "PAUSE queue"))
        case "RESUME": self = .resumeQueue(try Request.queueName(arguments, usage: "RESUME queue"))
        case "LIST":
            try Request.expect(arguments, none: "LIST")
            self = .list
        case "CLEAN":
            switch arguments.count {
            case 0: self = .clean(olderThan: nil)
            case 1:
                guard let seconds = Double(arguments[0]), seconds.isFinite, seconds >= 0 else {
                    throw ProtocolError(.badRequest, "CLEAN takes an age in seconds ≥ 0, got \"\(arguments[0])\"")
                }
                self = .clean(olderThan: seconds)
            default:
                throw ProtocolError(.badRequest, "CLEAN takes at most an age in seconds: CLEAN [seconds]")
            }
        case "SHUTDOWN":
            switch arguments.map({ $0.lowercased() }) {
            case [], ["wait"]: self = .shutdown(wait: true)
            case ["nowait"], ["no-wait"]: self = .shutdown(wait: false)
            default: throw ProtocolError(.badRequest, "SHUTDOWN takes wait or nowait, got \"\(arguments.joined(separator: " "))\"")
            }
        case "SCHEDULE": self = .schedule(try ScheduleRequest.parse(arguments))
        case "LOG":
            let (streams, rest) = try OutputSelection.take(from: arguments, verb: "LOG")
            self = .log(id: try Request.id(rest, usage: "LOG id [stream=stdout|stderr|all]"), streams: streams)
        case "FOLLOW":
            let (streams, rest) = try OutputSelection.take(from: arguments, verb: "FOLLOW")
            guard !rest.isEmpty, rest.count <= Request.maxFollowIDs else {
                throw ProtocolError(.badRequest, "FOLLOW takes 1 to \(Request.maxFollowIDs) task ids: FOLLOW id… [stream=stdout|stderr|all]")
            }
            self = .follow(ids: rest, streams: streams)
        case "EVENTS": self = .events(try EventFilter(words: arguments))
        case "HELP": self = .help
        default:
            throw ProtocolError(.unknownVerb, "unknown verb \"\(verb)\"; verbs: \(Request.verbList)")
        }
    }

    /// True for SUBMIT.
    public var isSubmit: Bool {
        if case .submit = self { true } else { false }
    }

    /// Parses one line; see ``init(parsing:)-(Substring)``.
    public init(parsing line: String) throws(ProtocolError) {
        try self.init(parsing: line[...])
    }

    /// The request as a line (no line feed) that parses back to the same request.
    public var line: String {
        switch self {
        case .ping: "PING"
        case .submit(let task, let arguments, let options): LineTokenizer.join(["SUBMIT"] + options.words + [task] + arguments)
        case .status: "STATUS"
        case .tasks(let limit): "TASKS \(limit.word)"
        case .futures(let limit): "FUTURES \(limit.word)"
        case .latest: "LATEST"
        case .result(let id): LineTokenizer.join(["RESULT", id])
        case .wait(let id, let timeout): LineTokenizer.join(["WAIT", id] + (timeout.map { ["\($0)"] } ?? []))
        case .cancel(let id): LineTokenizer.join(["CANCEL", id])
        case .kill(let id): LineTokenizer.join(["KILL", id])
        case .retry(let id): LineTokenizer.join(["RETRY", id])
        case .remove(let ids): LineTokenizer.join(["REMOVE"] + ids)
        case .queues: "QUEUES"
        case .pauseQueue(let name): LineTokenizer.join(["PAUSE", name])
        case .resumeQueue(let name): LineTokenizer.join(["RESUME", name])
        case .list: "LIST"
        case .clean(let seconds): seconds.map { "CLEAN \($0)" } ?? "CLEAN"
        case .shutdown(let wait): wait ? "SHUTDOWN wait" : "SHUTDOWN nowait"
        case .schedule(let request): LineTokenizer.join(["SCHEDULE"] + request.words)
        case .log(let id, let streams): LineTokenizer.join(["LOG", id] + (streams.word.map { [$0] } ?? []))
        case .follow(let ids, let streams): LineTokenizer.join(["FOLLOW"] + ids + (streams.word.map { [$0] } ?? []))
        case .events(let filter): LineTokenizer.join(["EVENTS"] + filter.words)
        case .help: "HELP"
        }
    }

    /// True for the verbs whose reply is a stream (``StreamLine``) after its `OK` line.
    public var isStreaming: Bool {
        switch self {
        case .log, .follow, .events: true
        default: false
        }
    }

    static var verbList: String {
        "PING SUBMIT STATUS TASKS FUTURES LATEST RESULT WAIT CANCEL KILL RETRY REMOVE QUEUES PAUSE RESUME LIST CLEAN SHUTDOWN SCHEDULE LOG FOLLOW EVENTS HELP"
    }

    private static func expect(_ arguments: [String], none verb: String) throws(ProtocolError) {
        guard arguments.isEmpty else {
            throw ProtocolError(.badRequest, "\(verb) takes no arguments, got \"\(arguments.joined(separator: " "))\"")
        }
    }

    /// The most ids one REMOVE takes.
    public static let maxRemoveIDs = 1000

    /// The most tasks one FOLLOW follows.
    public static let maxFollowIDs = 100

    private static func queueName(_ arguments: [String], usage: String) throws(ProtocolError) -> String {
        guard arguments.count == 1 else { throw ProtocolError(.badRequest, "expected \(usage)") }
        guard Name.isValid(arguments[0]) else {
            throw ProtocolError(.badRequest, "\"\(arguments[0])\" is not a queue name: letters, digits, - _ . (up to 64)")
        }
        return arguments[0]
    }

    private static func id(_ arguments: [String], usage: String) throws(ProtocolError) -> String {
        guard arguments.count == 1 else {
            throw ProtocolError(.badRequest, "expected \(usage)")
        }
        return arguments[0]
    }

    private static func limit(_ arguments: [String], verb: String) throws(ProtocolError) -> Limit {
        switch arguments.count {
        case 0: return .default
        case 1:
            if arguments[0].lowercased() == "all" { return .all }
            if let count = Int(arguments[0]), count >= 0 { return .mostRecent(count) }
            fallthrough
        default:
            throw ProtocolError(.badRequest, "\(verb) takes a row count ≥ 0 or \"all\", got \"\(arguments.joined(separator: " "))\"")
        }
    }
}

extension Request.Limit {
    var word: String {
        switch self {
        case .all: "all"
        case .mostRecent(let count): "\(count)"
        }
    }
}
