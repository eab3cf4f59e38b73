import Dispatch
import NIOConcurrencyHelpers
import PyBackgroundProtocol
import Subprocess
import SystemPackage

/// A task declared in the config file: a program run with an argv built from its arguments,
/// never through a shell. Its exit status and (bounded) output become the task's result; a
/// non-zero exit, a signal or the timeout make it a failure that carries the same fields.
public struct CommandTaskDefinition: Sendable, Hashable {
    /// What clients type after SUBMIT.
    public var name: String
    /// One line for `pybgctl list`.
    public var description: String
    /// The program and its arguments, with `{parameter}` placeholders.
    public var argv: ArgvTemplate
    /// Declared parameters, in positional order.
    public var parameters: [TaskParameter]
    /// Stopped (SIGTERM, then SIGKILL 2 s later) after this long; nil: no limit.
    public var timeoutSeconds: Double?
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

    /// Kept of each output stream unless configured: 1 MiB.
    public static let defaultMaxOutputBytes = 1 << 20

    /// A command task, as the config file declares one.
    public init(name: String, description: String, argv: ArgvTemplate, parameters: [TaskParameter],
                timeoutSeconds: Double? = nil, workingDirectory: String? = nil, environment: [String: String] = [:],
                inheritEnvironment: Bool = true, maxOutputBytes: Int = defaultMaxOutputBytes,
                retryIfInterrupted: Bool = false) {
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
    }

    /// The registration that runs this command.
    public var registeredTask: RegisteredTask {
        let definition = self
        return RegisteredTask(name: name, kind: .command, description: description, parameters: parameters,
                              retryIfInterrupted: retryIfInterrupted) { context, arguments in
            try CommandRunner.run(definition, argv: definition.argv.render(arguments), context: context)
        }
    }
}

/// Runs one command from a worker thread and waits for it.
enum CommandRunner {
    /// Time between SIGTERM and SIGKILL when a command is stopped.
    static let terminationGrace: Duration = .seconds(2)

    static func run(_ definition: CommandTaskDefinition, argv: [String], context: TaskContext) throws -> JSONValue {
        let outcome = NIOLockedValueBox<Result<Completed, any Error>?>(nil)
        let finished = DispatchSemaphore(value: 0)
        let task = Task {
            let result: Result<Completed, any Error>
            do { result = .success(try await runWithTimeout(definition, argv: argv)) } catch { result = .failure(error) }
            outcome.withLockedValue { $0 = result }
            finished.signal()
        }
        let cancelToken = context.onCancel { task.cancel() }
        finished.wait()   // this worker thread is the task's slot: it waits, the process runs
        context.removeCancelHandler(cancelToken)

        let completed: Completed
        switch outcome.withLockedValue({ $0 })! {
        case .success(let value): completed = value
        case .failure(let error as SubprocessError):
            throw TaskFailure(code: TaskFailure.spawnFailed, message: "could not run \(argv[0]): \(error)",
                              detail: .object(["argv": .array(argv.map(JSONValue.string))]))
        case .failure(let error):
            throw TaskFailure(code: TaskFailure.spawnFailed, message: "could not run \(argv[0]): \(error)")
        }

        var fields: [String: JSONValue] = [
            "argv": .array(argv.map(JSONValue.string)),
            "stdout": .string(completed.stdout.text),
            "stderr": .string(completed.stderr.text),
            "stdout_truncated": .bool(completed.stdout.truncated),
            "stderr_truncated": .bool(completed.stderr.truncated),
            "pid": .int(Int(completed.pid)),
        ]
        switch completed.status {
        case .exited(let code): fields["exit_status"] = .int(Int(code))
        case .signaled(let signal): fields["signal"] = .int(Int(signal))
        }
        let detail = JSONValue.object(fields)
        if completed.timedOut {
            throw TaskFailure(code: TaskFailure.timedOut,
                              message: "\(definition.name) outlived its timeout of \(definition.timeoutSeconds ?? 0) s and was stopped",
                              detail: detail)
        }
        if context.isCancelled {
            throw TaskFailure(code: TaskFailure.cancelledAtShutdown,
                              message: "\(definition.name) was stopped: the daemon's shutdown timeout ran out", detail: detail)
        }
        switch completed.status {
        case .exited(0):
            return detail
        case .exited(let code):
            throw TaskFailure(code: TaskFailure.exitStatus, message: "\(definition.name) exited with status \(code)\(tail(completed.stderr.text))", detail: detail)
        case .signaled(let signal):
            throw TaskFailure(code: TaskFailure.signalled, message: "\(definition.name) was killed by signal \(signal)\(tail(completed.stderr.text))", detail: detail)
        }
    }

    private struct Completed: Sendable {
        var pid: Int32
        var status: TerminationStatus
        var stdout: CollectedOutput
        var stderr: CollectedOutput
        var timedOut: Bool
    }

    /// Races the process against its timeout; when the timeout wins, cancelling the run makes
    /// Subprocess send SIGTERM and, after the grace period, SIGKILL.
    private static func runWithTimeout(_ definition: CommandTaskDefinition, argv: [String]) async throws -> Completed {
        let timedOut = NIOLockedValueBox(false)
        var completed = try await withThrowingTaskGroup(of: Completed?.self) { group in
            group.addTask { try await spawn(definition, argv: argv) }
            if let seconds = definition.timeoutSeconds {
                group.addTask {
                    try await Task.sleep(for: .nanoseconds(Int64(seconds * 1e9)))
                    timedOut.withLockedValue { $0 = true }
                    return nil
                }
            }
            while let next = try await group.next() {
                if let completed = next {
                    group.cancelAll()
                    return completed
                }
                group.cancelAll()   // the timeout fired: stop the process, then collect what it left
            }
            throw CancellationError()
        }
        completed.timedOut = timedOut.withLockedValue { $0 }
        return completed
    }

    private static func spawn(_ definition: CommandTaskDefinition, argv: [String]) async throws -> Completed {
        let program = argv[0]
        let executable: Executable = program.contains("/") ? .path(FilePath(program)) : .name(program)
        var keys: [Environment.Key: String] = [:]
        for (key, value) in definition.environment { keys[Environment.Key(stringLiteral: key)] = value }
        let environment: Environment = definition.inheritEnvironment
            ? .inherit.updating(keys.mapValues { Optional($0) })
            : .custom(keys)
        var options = PlatformOptions()
        options.teardownSequence = [.gracefulShutDown(allowedDurationToNextStep: terminationGrace)]
        let limit = definition.maxOutputBytes
        let result = try await Subprocess.run(
            executable,
            arguments: Arguments(Array(argv.dropFirst())),
            environment: environment,
            workingDirectory: definition.workingDirectory.map { FilePath($0) },
            platformOptions: options,
            input: .none,
            output: .sequence,
            error: .sequence
        ) { execution in
            async let stdout = collect(execution.standardOutput, limit: limit)
            async let stderr = collect(execution.standardError, limit: limit)
            return try await (stdout, stderr)
        }
        return Completed(pid: result.processIdentifier.value, status: result.terminationStatus,
                         stdout: result.closureResult.0, stderr: result.closureResult.1, timedOut: false)
    }

    struct CollectedOutput: Sendable {
        var bytes: [UInt8] = []
        var truncated = false
        var text: String { String(decoding: bytes, as: UTF8.self) }
    }

    /// Keeps the first `limit` bytes and keeps reading (and dropping) the rest, so a chatty
    /// process never blocks on a full pipe.
    private static func collect(_ sequence: SubprocessOutputSequence, limit: Int) async throws -> CollectedOutput {
        var output = CollectedOutput()
        for try await buffer in sequence {
            buffer.withUnsafeBytes { bytes in
                let room = limit - output.bytes.count
                if room >= bytes.count {
                    output.bytes.append(contentsOf: bytes)
                } else {
                    if room > 0 { output.bytes.append(contentsOf: bytes.prefix(room)) }
                    output.truncated = true
                }
            }
        }
        return output
    }

    private static func tail(_ stderr: String) -> String {
        let last = stderr.split(whereSeparator: \.isNewline).last.map(String.init) ?? ""
        return last.isEmpty ? "" : ": \(last.prefix(200))"
    }
}
