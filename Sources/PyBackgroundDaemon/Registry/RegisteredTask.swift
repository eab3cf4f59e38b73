import PyBackgroundProtocol

/// A task clients can start by name: its parameters and the Swift function that runs it.
///
/// ```swift
/// let greet = RegisteredTask(name: "greet", description: "say hello",
///                            parameters: [TaskParameter("who", .string, default: .string("world"))]) { _, arguments in
///     .string("hello, \(arguments.string("who")!)")
/// }
/// try registry.register(greet)
/// ```
public struct RegisteredTask: Sendable {
    /// Where a registration came from, as `LIST` reports it.
    public enum Kind: String, Sendable {
        case builtin, command, custom
    }

    /// What clients type after SUBMIT.
    public let name: String
    /// Built in, from the config, or from the Swift API.
    public let kind: Kind
    /// One line for `pybgctl list`.
    public let description: String
    /// Declared parameters, in positional order.
    public let parameters: [TaskParameter]
    /// Safe to run again from the start when the daemon died while it ran (it is idempotent):
    /// recovery re-queues it. Otherwise it ends `interrupted`, since it may have done part of its work.
    public let retryIfInterrupted: Bool
    /// Its queue, priority, timeout and retry policy unless a submission says otherwise.
    public let policy: TaskPolicy
    /// Runs on a worker thread; may block. Its value is the task's result; an error is its failure.
    public let run: @Sendable (TaskContext, BoundArguments) throws -> JSONValue

    /// A task; `run` gets its context and checked arguments on a worker thread.
    public init(
        name: String, kind: Kind = .custom, description: String, parameters: [TaskParameter] = [],
        retryIfInterrupted: Bool = false, policy: TaskPolicy = TaskPolicy(),
        run: @escaping @Sendable (TaskContext, BoundArguments) throws -> JSONValue
    ) {
        self.name = name
        self.kind = kind
        self.description = description
        self.parameters = parameters
        self.retryIfInterrupted = retryIfInterrupted
        self.policy = policy
        self.run = run
    }

    /// How LIST shows it.
    public var payload: RegisteredTaskPayload {
        RegisteredTaskPayload(
            name: name, kind: kind.rawValue, description: description,
            parameters: parameters.map(\.payload), retryIfInterrupted: retryIfInterrupted)
    }

    /// Names a client can type: letters, digits, `-`, `_`, `.`, starting with a letter or digit.
    public static func isValidName(_ name: String) -> Bool { Name.isValid(name) }
}

/// The tasks a daemon can run, by name. A value: the daemon swaps in a new one on reload,
/// and submissions already accepted keep the registration they were bound to.
///
/// ```swift
/// var registry = TaskRegistry.builtins
/// try registry.register(greet)
/// ```
public struct TaskRegistry: Sendable {
    private var byName: [String: RegisteredTask] = [:]

    /// An empty registry; ``builtins`` has the built-in tasks.
    public init() {}

    /// Adds a task. Throws for an invalid or already registered name.
    public mutating func register(_ task: RegisteredTask) throws(TaskFailure) {
        guard RegisteredTask.isValidName(task.name) else {
            throw TaskFailure(.badArgument, "task name \"\(task.name)\" is not allowed: use letters, digits, - _ . (up to 64), starting with a letter or digit")
        }
        guard byName[task.name] == nil else {
            throw TaskFailure(.badArgument, "a task named \"\(task.name)\" is already registered (\(byName[task.name]!.kind.rawValue))")
        }
        var seen = Set<String>()
        for parameter in task.parameters where !seen.insert(parameter.name).inserted {
            throw TaskFailure(.badArgument, "task \"\(task.name)\" declares parameter \"\(parameter.name)\" twice")
        }
        byName[task.name] = task
    }

    /// The task registered under `name`.
    public subscript(name: String) -> RegisteredTask? { byName[name] }

    /// Every registered task, sorted by name.
    public var tasks: [RegisteredTask] { byName.values.sorted { $0.name < $1.name } }

    /// The registered names, sorted.
    public var names: [String] { byName.keys.sorted() }
}
