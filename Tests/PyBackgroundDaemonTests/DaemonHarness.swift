import Foundation
import PyBackgroundClient
import PyBackgroundProtocol
import Synchronization
import Testing

/// A real `pybgd` process on a temporary socket, for integration tests: started from the build
/// directory, given a config file and a state store in its directory (unless `arguments` name
/// another `--state`), stopped (SIGTERM, then SIGKILL) when the test is done.
final class DaemonHarness {
    let directory: URL
    let socketPath: String
    /// The state store, unless the arguments chose another.
    var statePath: String { directory.appendingPathComponent("pybgd.sqlite").path }
    /// False when the caller made the directory (to restart a daemon on the same state) and removes it.
    private let ownsDirectory: Bool
    let process = Process()
    private let logPipe = Pipe()
    private var stopped = false

    /// The binary next to the test bundle, as `swift build` leaves it.
    static var binary: URL {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = bundle.deletingLastPathComponent()
        if bundle.pathExtension != "xctest" {
            directory = Bundle.allBundles.first { $0.bundlePath.hasSuffix(".xctest") }?.bundleURL.deletingLastPathComponent() ?? directory
        }
        return directory.appendingPathComponent("pybgd")
    }

    /// A new temporary directory, for daemons started one after another on the same state.
    static func makeDirectory() throws -> URL {
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("pybgd-test-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    /// - Parameter directory: where the socket, config and state go; nil: a new one, removed at the end.
    init(config: String = "", arguments: [String] = [], environment: [String: String] = [:], directory: URL? = nil,
         waitForAnswer: Bool = true) throws {
        ownsDirectory = directory == nil
        self.directory = try directory ?? Self.makeDirectory()
        socketPath = self.directory.appendingPathComponent("pybgd.sock").path
        let configPath = self.directory.appendingPathComponent("pybgd.yaml")
        try config.write(to: configPath, atomically: true, encoding: .utf8)
        process.executableURL = Self.binary
        let state = arguments.contains("--state") ? [] : ["--state", self.directory.appendingPathComponent("pybgd.sqlite").path]
        process.arguments = ["--config", configPath.path, "--socket", socketPath] + state + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        process.standardError = logPipe
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // Read the log as it comes: a full pipe would block the daemon at its next log line.
        let reader = logPipe.fileHandleForReading, collected = collectedLog, done = logDone
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

    func connect() throws -> ControlConnection { try ControlConnection(path: socketPath) }

    /// Sends one request on a new connection.
    func send(_ request: Request) throws -> Response { try connect().send(request) }

    /// Sends a request and decodes its OK payload; fails the test on ERR.
    func ok<Payload: Decodable>(_ request: Request, as type: Payload.Type) throws -> Payload {
        switch try send(request) {
        case .ok(let json): return try ProtocolJSON.decode(type, from: json)
        case .error(let code, let message): throw HarnessError("\(request.line) → ERR \(code) \(message)")
        }
    }

    func submit(_ task: String, _ arguments: String...) throws -> String {
        try ok(.submit(task: task, arguments: arguments), as: SubmitPayload.self).id
    }

    /// Waits for the process to exit; false if it is still running after `timeout`.
    func waitForExit(timeout: TimeInterval = 30) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(5_000) }
        return !process.isRunning
    }

    func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// The daemon's resident memory now, in KiB.
    var residentKiB: Int {
        let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
        return status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
            .flatMap { Int($0.split(separator: " ")[1]) } ?? 0
    }

    private let collectedLog = LogBuffer()
    private let logDone = DispatchSemaphore(value: 0)
    private var logComplete = false

    /// What the daemon logged, once it has exited (its whole log: the pipe has reached its end).
    var log: String {
        guard !process.isRunning else { return "(still running)" }
        if !logComplete {
            logDone.wait()
            logComplete = true
        }
        return collectedLog.text
    }
}

/// The daemon's stderr as read so far, filled by the harness's reader thread.
private final class LogBuffer: Sendable {
    private let data = Mutex(Data())

    func append(_ chunk: Data) { data.withLock { $0.append(chunk) } }
    var text: String { data.withLock { String(decoding: $0, as: UTF8.self) } }
}

extension Process {
    /// Kills the process (SIGKILL) if it still runs after `seconds`: a program that hangs (the
    /// fault some tests look for) fails its test instead of hanging the suite. Cancel the returned
    /// item once the process has ended.
    func killed(after seconds: Double) -> DispatchWorkItem {
        let pid = processIdentifier
        let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: watchdog)
        return watchdog
    }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
