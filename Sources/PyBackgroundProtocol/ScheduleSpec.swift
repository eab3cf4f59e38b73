/// What a recurring schedule runs and when, as `SCHEDULE ADD name …` and the config's
/// `schedules:` declare it: options `key=value` before the task name (as `SUBMIT`'s), then the
/// task and its arguments.
///
/// ```
/// SCHEDULE ADD nightly cron="30 2 * * *" tz=Europe/Berlin misfire=skip backup /srv
/// SCHEDULE ADD beat every=30s overlap=skip noop
/// ```
/// The cron expression and the time zone are checked by the daemon, which has their rules.
public struct ScheduleSpec: Hashable, Sendable {
    /// When it fires.
    public enum Trigger: Hashable, Sendable {
        /// Every span, on a grid from `start` (default: one span after the schedule was added).
        case every(Duration)
        /// A cron expression: five fields, or six with seconds first, or a shorthand (`@daily`).
        case cron(String)
    }

    /// What it does with ticks missed (daemon down, paused, pool full).
    public enum Misfire: Hashable, Sendable, CustomStringConvertible {
        case skip
        case once
        /// Every missed tick, at most `maximum`.
        case all(maximum: Int)

        /// `misfire=all` without a maximum.
        public static let defaultMaximum = 100

        public var description: String {
            switch self {
            case .skip: "skip"
            case .once: "once"
            case .all(let maximum): maximum == Self.defaultMaximum ? "all" : "all:\(maximum)"
            }
        }
    }

    /// What it does when a tick comes while its previous task has not ended.
    public enum Overlap: String, Hashable, Sendable, CustomStringConvertible {
        case allow, skip, queue
        public var description: String { rawValue }
    }

    public var trigger: Trigger
    /// IANA zone the cron expression is read in; nil: the daemon's.
    public var timeZone: String?
    /// The first tick of an interval (later ones are whole spans after it).
    public var start: Timestamp?
    public var misfire: Misfire
    public var overlap: Overlap
    /// The registered task each firing submits, with its arguments as typed.
    public var task: String
    public var arguments: [String]

    public init(
        trigger: Trigger, timeZone: String? = nil, start: Timestamp? = nil, misfire: Misfire = .once, overlap: Overlap = .allow,
        task: String, arguments: [String] = []
    ) {
        self.trigger = trigger
        self.timeZone = timeZone
        self.start = start
        self.misfire = misfire
        self.overlap = overlap
        self.task = task
        self.arguments = arguments
    }

    /// The option names, as error messages list them.
    public static let optionNames = ["every", "cron", "tz", "start", "misfire", "overlap"]

    /// Reads the words after the schedule's name. Throws `bad-request` naming what was wrong.
    public static func parse(_ words: [String]) throws(ProtocolError) -> ScheduleSpec {
        var values: [String: String] = [:]
        var index = 0
        while index < words.count, let equals = words[index].firstIndex(of: "=") {
            let key = String(words[index][..<equals])
            let value = String(words[index][words[index].index(after: equals)...])
            guard optionNames.contains(key) else {
                throw ProtocolError(
                    .badRequest,
                    "unknown schedule option \"\(key)\"; options: \(optionNames.map { "\($0)=…" }.joined(separator: ", ")) (the task's own key=value arguments go after its name)"
                )
            }
            guard values.updateValue(value, forKey: key) == nil else { throw ProtocolError(.badRequest, "option \(key)= is given twice") }
            index += 1
        }
        guard index < words.count else {
            throw ProtocolError(.badRequest, "a schedule needs a task: … every=SPAN|cron=EXPR [option=value…] task [arg…]")
        }
        let trigger: Trigger
        switch (values["every"], values["cron"]) {
        case (let span?, nil): trigger = .every(try TimeSpan.parse(span[...]))
        case (nil, let expression?):
            guard !expression.isEmpty else { throw ProtocolError(.badRequest, "cron= needs an expression, e.g. cron=\"*/5 * * * *\"") }
            trigger = .cron(expression)
        case (nil, nil): throw ProtocolError(.badRequest, "a schedule needs every=SPAN (e.g. every=5m) or cron=EXPR (e.g. cron=\"0 3 * * *\")")
        case (.some, .some): throw ProtocolError(.badRequest, "every= and cron= both say when to fire: give one")
        }
        var spec = ScheduleSpec(trigger: trigger, task: words[index], arguments: Array(words[(index + 1)...]))
        if let zone = values["tz"] {
            guard case .cron = trigger else { throw ProtocolError(.badRequest, "tz= goes with cron=; an interval has no wall time") }
            guard !zone.isEmpty else { throw ProtocolError(.badRequest, "tz= needs an IANA zone name, e.g. tz=Europe/Berlin") }
            spec.timeZone = zone
        }
        if let start = values["start"] {
            guard case .every = trigger else { throw ProtocolError(.badRequest, "start= goes with every=; a cron expression says its own times") }
            spec.start = try Timestamp.parse(start[...])
        }
        if let misfire = values["misfire"] { spec.misfire = try Self.misfire(misfire) }
        if let overlap = values["overlap"] {
            guard let parsed = Overlap(rawValue: overlap.lowercased()) else {
                throw ProtocolError(.badRequest, "overlap=\(overlap) is not a policy; overlap= takes allow, skip or queue")
            }
            spec.overlap = parsed
        }
        return spec
    }

    private static func misfire(_ text: String) throws(ProtocolError) -> Misfire {
        let lowered = text.lowercased()
        switch lowered {
        case "skip": return .skip
        case "once": return .once
        case "all": return .all(maximum: Misfire.defaultMaximum)
        default:
            if lowered.hasPrefix("all:"), let maximum = Int(lowered.dropFirst(4)), (1...100_000).contains(maximum) {
                return .all(maximum: maximum)
            }
            throw ProtocolError(.badRequest, "misfire=\(text) is not a policy; misfire= takes skip, once, all or all:N (N from 1 to 100000)")
        }
    }

    /// The words that ``parse(_:)`` reads back: options in a fixed order, defaults left out.
    public var words: [String] {
        var words: [String] = []
        switch trigger {
        case .every(let span): words.append("every=\(TimeSpan.format(span))")
        case .cron(let expression): words.append("cron=\(expression)")
        }
        if let timeZone { words.append("tz=\(timeZone)") }
        if let start { words.append("start=\(start)") }
        if misfire != .once { words.append("misfire=\(misfire)") }
        if overlap != .allow { words.append("overlap=\(overlap)") }
        return words + [task] + arguments
    }

    /// `every 5m` or `cron 30 2 * * * (Europe/Berlin)`, for people.
    public var triggerText: String {
        switch trigger {
        case .every(let span): "every \(TimeSpan.format(span))" + (start.map { " from \($0)" } ?? "")
        case .cron(let expression): "cron \(expression)" + (timeZone.map { " (\($0))" } ?? "")
        }
    }
}
