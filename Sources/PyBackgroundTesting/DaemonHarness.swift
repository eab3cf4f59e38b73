import Foundation
import PyBackgroundClient
import PyBackgroundProtocol

/// A real `pybgd` process on a temporary socket, for integration tests: started from the build
/// directory, given a config file and a state store in its directory (unless `arguments` name
/// another `--state`), stopped (SIGTERM, then SIGKILL) when the test is done.
///
/// ```swift
/// let daemon = try DaemonHarness(config: "scheduler: {max_workers: 1}")
/// let id = try daemon.submit("noop")
/// #expect(try daemon.ok(.wait(id: id, timeout: 30), as: FuturePayload.self).state == "finished")
/// ```
public final class DaemonHarness: DaemonEndpoint {
    public let directory: URL
    public let socketPath: String
    /// The state store, unless the arguments chose another.
    public var statePath: String { directory.appendingPathComponent("pybgd.sqlite").path }
    /// False when the caller made the directory (to restart a daemon on the same state) and removes it.
    private let ownsDirectory: Bool
    public let process = Process()
    private let logPipe = Pipe()
    private let collectedLog = Log<Data>()
    private let logDone = DispatchSemaphore(value: 0)
    private var logComplete = false

    /// The binary next to the test bundle, as `swift build` leaves it.
    public static var binary: URL { productDirectory.appendingPathComponent("pybgd") }

    /// The build directory the test bundle runs from, where `swift build` left the executables.
    public static var productDirectory: URL {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = bundle.deletingLastPathComponent()
        if bundle.pathExtension != "xctest" {
            directory = Bundle.allBundles.first { $0.bundlePath.hasSuffix(".xctest") }?.bundleURL.deletingLastPathComponent() ?? directory
        }
        return directory
    }

    /// Starts `pybgd` and, with `waitForAnswer`, returns once its socket answers a PING.
    ///
    /// - Parameters:
    ///   - config: the text of its config file.
    ///   - arguments: more command-line arguments (after `--config`, `--socket` and `--state`).
    ///   - environment: variables set over the test's own environment.
    ///   - directory: where the socket, config and state go; nil: a new one, removed at the end.
    ///   - umask: the daemon's umask (set by a shell that then becomes it); nil: the test
    ///     process's. Not by changing the test process's own, which in-process daemons of other
    ///     tests narrow meanwhile (``ProcessUmask``).
    public init(
        config: String = "", arguments: [String] = [], environment: [String: String] = [:], directory: URL? = nil,
        waitForAnswer: Bool = true, umask: mode_t? = nil
    ) throws {
        ownsDirectory = directory == nil
        self.directory = try directory ?? TemporaryDirectory.make()
        socketPath = self.directory.appendingPathComponent("pybgd.sock").path
        let configPath = self.directory.appendingPathComponent("pybgd.yaml")
        try config.write(to: configPath, atomically: true, encoding: .utf8)
        let state = arguments.contains("--state") ? [] : ["--state", self.directory.appendingPathComponent("pybgd.sqlite").path]
        let daemonArguments = ["--config", configPath.path, "--socket", socketPath] + state + arguments
        if let umask {
            process.executableURL = URL(fileURLWithPath: UmaskLauncher.shell)
            process.arguments = Array(UmaskLauncher.argv(umask: umask, program: Self.binary.path, arguments: daemonArguments).dropFirst())
        } else {
            process.executableURL = Self.binary
            process.arguments = daemonArguments
        }
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        process.standardError = logPipe
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // Read the log as it comes: a full pipe would block the daemon at its next log line.
        let reader = logPipe.fileHandleForReading
        let collected = collectedLog
        let done = logDone
        Thread.detachNewThread {
            while case let chunk = reader.availableData, !chunk.isEmpty {
                collected.append(chunk)
            }
            done.signal()
        }
        if waitForAnswer { try waitUntilAnswering() }
    }

    deinit {
        if process.isRunning {
            process.terminate()
            if !waitForExit(timeout: 10) { kill(process.processIdentifier, SIGKILL) }
        }
        if ownsDirectory { try? FileManager.default.removeItem(at: directory) }
    }

    /// Polls until the socket accepts a PING (the daemon binds before it answers).
    private func waitUntilAnswering(timeout: TimeInterval = 30) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if !process.isRunning { throw HarnessError("pybgd exited with \(process.terminationStatus): \(log)") }
            if let connection = try? ControlConnection(path: socketPath), case .ok = try connection.send(.ping) { return }
            usleep(5_000)
        }
        throw HarnessError("pybgd did not answer on \(socketPath) within \(timeout) s: \(log)")
    }

    /// Waits for the process to exit; false if it is still running after `timeout`.
    public func waitForExit(timeout: TimeInterval = 30) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(5_000) }
        return !process.isRunning
    }

    /// Sends `signal` to the daemon.
    public func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// The daemon's resident memory now, in KiB.
    public var residentKiB: Int {
        let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
        return status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
            .flatMap { Int($0.split(separator: " ")[1]) } ?? 0
    }

    /// What the daemon logged, once it has exited (its whole log: the pipe has reached its end).
    public var log: String {
        guard !process.isRunning else { return "(still running)" }
        if !logComplete {
            logDone.wait()
            logComplete = true
        }
        return String(decoding: collectedLog.all.reduce(into: Data()) { $0.append($1) }, as: UTF8.self)
    }
}
