/// How a submission asks for more than "run this now": the words `key=value` between `SUBMIT` and
/// the task name. A task name never contains `=`, so an option can never be taken for the task or
/// its arguments, whatever parameters the task declares:
///
/// ```
/// SUBMIT in=10m backup /srv                           run in ten minutes
/// SUBMIT at=2026-12-01T03:00+01:00 backup /srv
/// SUBMIT queue=io priority=5 attempts=3 timeout=10m backup /srv
/// SUBMIT after=3f2a,77c1 unique=nightly-report report
/// ```
///
/// | option | meaning |
/// |---|---|
/// | `in=SPAN`, `at=TIME` | when it may start (``TimeSpan``, ``Timestamp``) |
/// | `queue=NAME` | the configured queue it waits in (default: the task's, else `default`) |
/// | `priority=N` | higher runs first in its queue (−1000000…1000000; default: the task's, else 0) |
/// | `after=ID[,ID…]` | runs once all these tasks finished (ids or unique prefixes, at most 64) |
/// | `attempts=N` | at most N attempts in all (1…1000), with the task's backoff |
/// | `timeout=SPAN` | each attempt is stopped after this long |
/// | `unique=KEY` | no second live task with this key: a repeat gets the holder's id back |
/// | `retry_of=ID` | labels the task as a new run of an ended one (`RETRY` sets it) |
///
/// All of it sits behind one reference: a `Request` stays small however many options exist.
public struct SubmitOptions: Hashable, Sendable {
    /// When the task may start.
    public enum Timing: Hashable, Sendable {
        /// This long after the daemon accepts it.
        case after(Duration)
        /// At this time (a wall time without an offset is the daemon's local time).
        case at(Timestamp)
    }

    private struct Fields: Hashable, Sendable {
        var timing: Timing?
        var queue: String?
        var priority: Int?
        var after: [String] = []
        var attempts: Int?
        var timeout: Duration?
        var unique: String?
        var retryOf: String?
    }

    private final class Box: Sendable {
        let fields: Fields
        init(_ fields: Fields) { self.fields = fields }
    }

    private var box: Box?

    private var fields: Fields {
        get { box?.fields ?? Fields() }
        set { box = newValue == Fields() ? nil : Box(newValue) }
    }

    public static func == (lhs: SubmitOptions, rhs: SubmitOptions) -> Bool { lhs.fields == rhs.fields }
    public func hash(into hasher: inout Hasher) { hasher.combine(fields) }

    /// Nil: as soon as a worker is free.
    public var timing: Timing? {
        get { fields.timing }
        set { fields.timing = newValue }
    }
    /// Nil: the task's queue.
    public var queue: String? {
        get { fields.queue }
        set { fields.queue = newValue }
    }
    /// Nil: the task's priority.
    public var priority: Int? {
        get { fields.priority }
        set { fields.priority = newValue }
    }
    /// Task ids or unique prefixes, as typed.
    public var after: [String] {
        get { fields.after }
        set { fields.after = newValue }
    }
    /// Nil: the task's retry policy.
    public var attempts: Int? {
        get { fields.attempts }
        set { fields.attempts = newValue }
    }
    /// Nil: the task's timeout.
    public var timeout: Duration? {
        get { fields.timeout }
        set { fields.timeout = newValue }
    }
    public var unique: String? {
        get { fields.unique }
        set { fields.unique = newValue }
    }
    public var retryOf: String? {
        get { fields.retryOf }
        set { fields.retryOf = newValue }
    }

    public init(
        timing: Timing? = nil, queue: String? = nil, priority: Int? = nil, after: [String] = [], attempts: Int? = nil,
        timeout: Duration? = nil, unique: String? = nil, retryOf: String? = nil
    ) {
        let fields = Fields(
            timing: timing, queue: queue, priority: priority, after: after, attempts: attempts, timeout: timeout, unique: unique,
            retryOf: retryOf)
        box = fields == Fields() ? nil : Box(fields)
    }

    /// No option given.
    public var isEmpty: Bool { box == nil }

    /// Whether any option but the timing was given: the flow options a host keeps with the task.
    public var hasFlowOptions: Bool {
        var rest = fields
        rest.timing = nil
        return rest != Fields()
    }

    /// The option names, as error messages list them.
    public static let names = ["in", "at", "queue", "priority", "after", "attempts", "timeout", "unique", "retry_of"]

    /// Limits of the values, as the reference above states them.
    public static let priorityRange = -1_000_000...1_000_000
    public static let attemptsRange = 1...1000
    public static let maxAfter = 64
    public static let maxUniqueKeyBytes = 200

    /// Takes the leading `key=value` words of a SUBMIT's arguments; returns the options and the
    /// words from the task name on. Throws `bad-request` for an unknown, repeated or malformed option.
    public static func take(from words: [String]) throws(ProtocolError) -> (options: SubmitOptions, rest: ArraySlice<String>) {
        // Most submissions have no option: no set, no copy.
        guard let first = words.first, first.utf8.contains(UInt8(ascii: "=")) else { return (SubmitOptions(), words[...]) }
        var fields = Fields()
        var seen: Set<Substring> = []
        var index = 0
        while index < words.count, let equals = words[index].firstIndex(of: "=") {
            let word = words[index]
            let key = word[..<equals]
            let value = word[word.index(after: equals)...]
            guard names.contains(String(key)) else {
                throw ProtocolError(
                    .badRequest,
                    "unknown option \"\(key)\" before the task name; options: \(names.map { "\($0)=…" }.joined(separator: ", ")) (a task's own key=value arguments go after its name)"
                )
            }
            guard seen.insert(key).inserted else { throw ProtocolError(.badRequest, "option \(key)= is given twice") }
            try parse(key, value, into: &fields)
            index += 1
        }
        if seen.contains("in") && seen.contains("at") {
            throw ProtocolError(.badRequest, "in= and at= both say when to run: give one")
        }
        var options = SubmitOptions()
        options.fields = fields
        return (options, words[index...])
    }

    private static func parse(_ key: Substring, _ value: Substring, into fields: inout Fields) throws(ProtocolError) {
        switch key {
        case "in": fields.timing = .after(try TimeSpan.parse(value))
        case "at": fields.timing = .at(try Timestamp.parse(value))
        case "queue":
            guard Name.isValid(value) else {
                throw ProtocolError(.badRequest, "queue=\(value) is not a queue name: letters, digits, - _ . (up to 64), starting with a letter or digit")
            }
            fields.queue = String(value)
        case "priority":
            guard let priority = Int(value), priorityRange.contains(priority) else {
                throw ProtocolError(.badRequest, "priority=\(value) is not a whole number from \(priorityRange.lowerBound) to \(priorityRange.upperBound)")
            }
            fields.priority = priority
        case "after":
            let ids = value.split(separator: ",", omittingEmptySubsequences: false)
            guard !ids.isEmpty, ids.count <= maxAfter, ids.allSatisfy(isIDPrefix) else {
                throw ProtocolError(
                    .badRequest, "after=\(value) must be task ids or id prefixes (hex), separated by commas, at most \(maxAfter)")
            }
            fields.after = ids.map(String.init)
        case "attempts":
            guard let attempts = Int(value), attemptsRange.contains(attempts) else {
                throw ProtocolError(
                    .badRequest, "attempts=\(value) is not a whole number from 1 to \(attemptsRange.upperBound) (attempts in all, the first included)")
            }
            fields.attempts = attempts
        case "timeout": fields.timeout = try TimeSpan.parse(value)
        case "unique":
            guard !value.isEmpty, value.utf8.count <= maxUniqueKeyBytes, value.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F }) else {
                throw ProtocolError(.badRequest, "unique=\(value) must be 1 to \(maxUniqueKeyBytes) bytes without spaces or control characters")
            }
            fields.unique = String(value)
        default:
            guard isIDPrefix(value), value.count == 32 else {
                throw ProtocolError(.badRequest, "retry_of=\(value) must be a whole task id (32 hex digits)")
            }
            fields.retryOf = String(value)
        }
    }

    private static func isIDPrefix(_ text: Substring) -> Bool {
        !text.isEmpty && text.count <= 32 && text.unicodeScalars.allSatisfy { $0.properties.isASCIIHexDigit }
    }

    /// The options as the words that ``take(from:)`` reads back.
    public var words: [String] {
        var words: [String] = []
        switch timing {
        case nil: break
        case .after(let span): words.append("in=\(TimeSpan.format(span))")
        case .at(let time): words.append("at=\(time)")
        }
        words += flowWords
        return words
    }

    /// The words of every option but the timing: what a host stores with the task, to read back
    /// after a restart (the timing is stored as the time it resolved to).
    public var flowWords: [String] {
        guard box != nil else { return [] }
        var words: [String] = []
        if let queue { words.append("queue=\(queue)") }
        if let priority { words.append("priority=\(priority)") }
        if !after.isEmpty { words.append("after=\(after.joined(separator: ","))") }
        if let attempts { words.append("attempts=\(attempts)") }
        if let timeout { words.append("timeout=\(TimeSpan.format(timeout))") }
        if let unique { words.append("unique=\(unique)") }
        if let retryOf { words.append("retry_of=\(retryOf)") }
        return words
    }
}
