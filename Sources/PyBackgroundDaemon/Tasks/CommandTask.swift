import PyBackgroundProtocol

/// A task declared in the config file: a program run with an argv built from its arguments,
/// never through a shell. Its exit status and (bounded) output become the task's result; a
/// non-zero exit, a signal or the timeout make it a failure that carries the same fields.
///
/// It runs in a session and process group of its own under `pybgd-exec` (``CommandRunner``): a
/// timeout, a cancel or the shutdown stops the whole group, and nothing of it outlives pybgd.
public struct CommandTaskDefinition: Sendable, Hashable {
    /// What clients type after SUBMIT.
    public var name: String
    /// One line for `pybgctl list`.
    public var description: String
    /// The program and its arguments, with `{parameter}` placeholders.
    public var argv: ArgvTemplate
    /// Declared parameters, in positional order.
    public var parameters: [TaskParameter]
    /// Stopped (its process group gets SIGTERM, then SIGKILL 2 s later) after this long; nil: no
    /// limit. Each attempt gets it anew.
    public var timeoutSeconds: Double? {
        didSet { policy.timeoutSeconds = timeoutSeconds }
    }
    /// Where the command runs; nil: the daemon's working directory.
    public var workingDirectory: String?
    /// Set on top of the daemon's environment, or instead of it without `inheritEnvironment`.
    public var environment: [String: String]
    /// Whether the daemon's environment is passed on (then `environment` is added to it).
    public var inheritEnvironment: Bool
    /// Bytes kept of each of stdout and stderr; the rest is read and dropped.
    public var maxOutputBytes: Int

    /// Run again after a restart if the daemon died while it ran; otherwise it ends `interrupted`.
    public var retryIfInterrupted: Bool
    /// Its queue, priority and retry policy (its timeout is `timeoutSeconds`).
    public var policy: TaskPolicy

    /// Kept of each output stream unless configured: 1 MiB.
    public static let defaultMaxOutputBytes = 1 << 20

    /// A command task, as the config file declares one.
    public init(
        name: String, description: String, argv: ArgvTemplate, parameters: [TaskParameter],
        timeoutSeconds: Double? = nil, workingDirectory: String? = nil, environment: [String: String] = [:],
        inheritEnvironment: Bool = true, maxOutputBytes: Int = defaultMaxOutputBytes,
        retryIfInterrupted: Bool = false, policy: TaskPolicy = TaskPolicy()
    ) {
        self.name = name
        self.description = description
        self.argv = argv
        self.parameters = parameters
        self.timeoutSeconds = timeoutSeconds
        self.workingDirectory = workingDirectory
        self.environment = environment
        self.inheritEnvironment = inheritEnvironment
        self.maxOutputBytes = maxOutputBytes
        self.retryIfInterrupted = retryIfInterrupted
        self.policy = policy
        self.policy.timeoutSeconds = timeoutSeconds
    }

    /// The registration that runs this command.
    public var registeredTask: RegisteredTask {
        let definition = self
        return RegisteredTask(
            name: name, kind: .command, description: description, parameters: parameters,
            retryIfInterrupted: retryIfInterrupted, policy: policy
        ) { context, arguments in
            try CommandRunner.run(definition, argv: definition.argv.render(arguments), context: context)
        }
    }
}
