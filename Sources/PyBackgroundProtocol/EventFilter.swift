/// Which events an `EVENTS` request wants: `task=NAME,…`, `queue=NAME,…`, `id=PREFIX`,
/// `event=KIND,…`; each given narrows the stream, none gives every event. `lagged` events are
/// always sent.
///
/// ```swift
/// let filter = try EventFilter(words: ["task=backup", "event=failed,retrying"])
/// filter.matches(.failed, id: "3f2a…", task: "backup", queue: "default")   // true
/// ```
public struct EventFilter: Hashable, Sendable {
    public var tasks: Set<String> = []
    public var queues: Set<String> = []
    public var idPrefix: String?
    public var kinds: Set<TaskEventKind> = []

    public init(tasks: Set<String> = [], queues: Set<String> = [], idPrefix: String? = nil, kinds: Set<TaskEventKind> = []) {
        self.tasks = tasks
        self.queues = queues
        self.idPrefix = idPrefix
        self.kinds = kinds
    }

    /// Parses the words after `EVENTS`.
    public init(words: [String]) throws(ProtocolError) {
        for word in words {
            guard let equals = word.firstIndex(of: "=") else {
                throw ProtocolError(.badRequest, "EVENTS takes task=, queue=, id= and event= filters, got \"\(word)\"")
            }
            let key = word[..<equals].lowercased()
            let values = word[word.index(after: equals)...].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard !values.contains(where: \.isEmpty) else {
                throw ProtocolError(.badRequest, "EVENTS \(key)= needs a value (several separated by commas), got \"\(word)\"")
            }
            switch key {
            case "task", "queue":
                for value in values where !Name.isValid(value) {
                    throw ProtocolError(.badRequest, "EVENTS \(key)=\(value): not a \(key) name: letters, digits, - _ . (up to 64)")
                }
                if key == "task" { tasks.formUnion(values) } else { queues.formUnion(values) }
            case "id":
                guard values.count == 1, let prefix = values.first, prefix.count <= 32,
                    prefix.allSatisfy({ $0.isHexDigit })
                else {
                    throw ProtocolError(.badRequest, "EVENTS id= takes one id or prefix of hex digits, got \"\(word)\"")
                }
                idPrefix = prefix.lowercased()
            case "event":
                for value in values {
                    guard let kind = TaskEventKind(rawValue: value.lowercased()), kind != .lagged else {
                        throw ProtocolError(
                            .badRequest,
                            "EVENTS event=\(value): not an event; events: \(TaskEventKind.taskKinds.map(\.rawValue).joined(separator: ", "))")
                    }
                    kinds.insert(kind)
                }
            default:
                throw ProtocolError(.badRequest, "EVENTS takes task=, queue=, id= and event= filters, got \"\(word)\"")
            }
        }
    }

    /// The filter's words, as a request line carries them.
    public var words: [String] {
        var words: [String] = []
        if !tasks.isEmpty { words.append("task=" + tasks.sorted().joined(separator: ",")) }
        if !queues.isEmpty { words.append("queue=" + queues.sorted().joined(separator: ",")) }
        if let idPrefix { words.append("id=" + idPrefix) }
        if !kinds.isEmpty { words.append("event=" + kinds.map(\.rawValue).sorted().joined(separator: ",")) }
        return words
    }

    /// Whether an event of this kind, task id (32 hex digits; only made when an `id=` filter
    /// needs it), task and queue passes.
    public func matches(_ kind: TaskEventKind, id: @autoclosure () -> String, task: String, queue: String) -> Bool {
        (kinds.isEmpty || kinds.contains(kind)) && (tasks.isEmpty || tasks.contains(task))
            && (queues.isEmpty || queues.contains(queue)) && (idPrefix.map { id().hasPrefix($0) } ?? true)
    }
}
