import Dispatch
import PyBackground
import PyBackgroundProtocol
import Subprocess
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Runs one command task from a worker thread and waits for it.
///
/// The command is started by `pybgd-exec` (``CommandExecHelper``), which puts it in a session and
/// process group of its own and holds a pipe whose other end only this process keeps: stopping the
/// task (its timeout or a KILL, both stop requests of its future; the shutdown) sends the helper SIGTERM, and the helper takes the whole group
/// and every descendant down (SIGTERM, then SIGKILL after ``terminationGrace``); when pybgd dies,
/// even by SIGKILL, the pipe ends and the helper does the same. Processes the command leaves
/// behind when it exits are stopped too: a task's processes end with the task.
enum CommandRunner {
    /// Time between SIGTERM and SIGKILL when a command's processes are stopped.
    static let terminationGrace: Duration = .seconds(2)

    /// How long the helper gets beyond the grace before it is killed itself: it kills the group at
    /// the end of the grace, then exits as the command did.
    static let helperSlack: Duration = .seconds(1)

    static func run(_ definition: CommandTaskDefinition, argv: [String], context: TaskContext) throws -> JSONValue {
        let helper: String
        switch CommandExecHelper.path {
        case .success(let path): helper = path
        case .failure(let error):
            throw TaskFailure(
                .spawnFailed, "could not run \(argv[0]): \(error.message)",
                detail: .object(["argv": .array(argv.map(JSONValue.string))]))
        }
        let handoff = BlockingHandoff<Completed>()
        let id = context.id
        let outputs = context.outputs
        let task = Task {
            do {
                handoff.deliver(.success(try await spawn(definition, helper: helper, argv: argv, id: id, outputs: outputs)))
            } catch {
                handoff.deliver(.failure(error))
            }
        }
        let cancelToken = context.onCancel { task.cancel() }
        let outcome = handoff.wait()  // this worker thread is the task's slot: it waits, the process runs
        context.removeCancelHandler(cancelToken)
        outputs?.endWriting(id)

        let completed: Completed
        switch outcome {
        case .success(let value): completed = value
        case .failure(let error):
            throw TaskFailure(
                .spawnFailed, "could not run \(argv[0]): \(error)",
                detail: .object(["argv": .array(argv.map(JSONValue.string))]))
        }
        if case .exited(CommandExecHelper.cannotRunStatus) = completed.status,
            let reason = CommandExecHelper.spawnFailure(inStandardError: completed.stderr.bytes)
        {
            throw TaskFailure(
                .spawnFailed, "could not run \(argv[0]): \(reason)",
                detail: .object(["argv": .array(argv.map(JSONValue.string))]))
        }

        var fields: [String: JSONValue] = ["argv": .array(argv.map(JSONValue.string)), "pid": .int(Int(completed.pid))]
        completed.stdout.addFields(named: "stdout", to: &fields)
        completed.stderr.addFields(named: "stderr", to: &fields)
        switch completed.status {
        case .exited(let code): fields["exit_status"] = .int(Int(code))
        case .signaled(let signal): fields["signal"] = .int(Int(signal))
        }
        let detail = JSONValue.object(fields)
        // Its timeout, a KILL or the shutdown stopped it: that is why it ended, whatever its status.
        if let stopped = context.stopFailure(detail: detail) {
            throw TaskFailure(stopped.code, "\(definition.name): \(stopped.message)", detail: detail)
        }
        switch completed.status {
        case .exited(0):
            return detail
        case .exited(let code):
            throw TaskFailure(.exitStatus, "\(definition.name) exited with status \(code)\(tail(completed.stderr.text))", detail: detail)
        case .signaled(let signal):
            throw TaskFailure(.signalled, "\(definition.name) was killed by signal \(signal)\(tail(completed.stderr.text))", detail: detail)
        }
    }

    private struct Completed: Sendable {
        var pid: Int32
        var status: TerminationStatus
        var stdout: CommandOutput
        var stderr: CommandOutput
    }

    private static func spawn(
        _ definition: CommandTaskDefinition, helper: String, argv: [String], id: TaskID, outputs: TaskOutputs?
    ) async throws -> Completed {
        var keys: [Environment.Key: String] = [:]
        for (key, value) in definition.environment { keys[Environment.Key(stringLiteral: key)] = value }
        let environment: Environment =
            definition.inheritEnvironment
            ? .inherit.updating(keys.mapValues { Optional($0) })
            : .custom(keys)
        var options = PlatformOptions()
        options.teardownSequence = [.gracefulShutDown(allowedDurationToNextStep: terminationGrace + helperSlack)]
        // The helper's standard input is the lifeline: its other end stays here, close-on-exec, so
        // only this process holds it, and it ends when this process does, however it dies. (Made
        // close-on-exec after pipe(): Glibc's module has no pipe2, but every process pybgd starts
        // is started by Subprocess, which closes descriptors from 3 up in the child.)
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { throw Errno(rawValue: errno) }
        _ = fcntl(ends[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC)
        defer { close(ends[1]) }
        let graceMilliseconds = terminationGrace.components.seconds * 1000 + terminationGrace.components.attoseconds / 1_000_000_000_000_000
        let limit = definition.maxOutputBytes
        let result = try await Subprocess.run(
            .path(FilePath(helper)),
            arguments: Arguments([String(graceMilliseconds)] + argv),
            environment: environment,
            workingDirectory: definition.workingDirectory.map { FilePath($0) },
            platformOptions: options,
            input: .fileDescriptor(FileDescriptor(rawValue: ends[0]), closeAfterSpawningProcess: true),
            output: .sequence,
            error: .sequence
        ) { execution in
            async let stdout = CommandOutput.collect(execution.standardOutput, limit: limit) { outputs?.append($0, id: id, stream: .stdout) }
            async let stderr = CommandOutput.collect(execution.standardError, limit: limit) { outputs?.append($0, id: id, stream: .stderr) }
            return try await (stdout, stderr)
        }
        return Completed(
            pid: result.processIdentifier.value, status: result.terminationStatus,
            stdout: result.closureResult.0, stderr: result.closureResult.1)
    }

    private static func tail(_ stderr: String) -> String {
        let last = stderr.split(whereSeparator: \.isNewline).last.map(String.init) ?? ""
        return last.isEmpty ? "" : ": \(last.prefix(200))"
    }
}
