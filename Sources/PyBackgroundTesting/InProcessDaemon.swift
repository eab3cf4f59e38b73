import Foundation
import Logging
import PyBackground
import PyBackgroundDaemon
import PyBackgroundProtocol

/// A ``Daemon`` in the test's own process, on a temporary socket, with test-only tasks beside the
/// configured ones: `gate` blocks until the test opens ``gate``, so a test holds workers busy and
/// tasks queued for exactly as long as it needs, without sleeping. Its log goes to ``log``.
/// Requests still go through the real socket and client.
///
/// ```swift
/// try await InProcessDaemon.run(configuration: oneWorker) { daemon in
///     let running = try daemon.submit("gate")
///     #expect(daemon.gateArrivals.wait(until: 1))
///     let queued = try daemon.submit("noop")
///     …
///     daemon.gate.open()
/// }
/// ```
public final class InProcessDaemon: DaemonEndpoint, Sendable {
    /// The name of the task that blocks on ``gate``.
    public static let gateTask = "gate"

    public let directory: URL
    public let socketPath: String
    /// The configuration it runs with (a SQLite store in ``directory`` unless it said otherwise).
    public let configuration: DaemonConfiguration
    /// What `gate` tasks wait for; opened at the latest when the daemon stops.
    public let gate = Gate()
    /// How many `gate` tasks have started.
    public let gateArrivals = Counter()
    /// Everything the daemon logged.
    public let log = CapturedLog()
    private let daemon: Daemon
    private let serving: Task<Void, Never>
    /// How ``Daemon/run()`` ended, once it has: empty while it serves.
    private let outcome = Log<Result<Void, any Error>>()

    /// Starts a daemon, runs `body` with it, and stops it (opening the gate first) however `body` ended.
    public static func run<Value>(
        configuration: DaemonConfiguration = DaemonConfiguration(), tasks: [RegisteredTask] = [],
        _ body: (InProcessDaemon) async throws -> Value
    ) async throws -> Value {
        let daemon = try await InProcessDaemon(configuration: configuration, tasks: tasks)
        let result: Value
        do {
            result = try await body(daemon)
        } catch {
            try? await daemon.stop()
            throw error
        }
        try await daemon.stop()
        return result
    }

    /// Starts a daemon and returns once its socket answers a PING. Call ``stop()`` when done.
    ///
    /// - Parameters:
    ///   - configuration: as a config file would give it; its socket path is replaced.
    ///   - tasks: tasks to register beside the configured ones and `gate`.
    public init(configuration: DaemonConfiguration = DaemonConfiguration(), tasks: [RegisteredTask] = []) async throws {
        directory = try TemporaryDirectory.make("pybgd-inproc")
        socketPath = directory.appendingPathComponent("pybgd.sock").path
        var configuration = configuration
        if configuration.state.store == .sqlite && configuration.state.path == nil {
            configuration.state.path = directory.appendingPathComponent("pybgd.sqlite").path
        }
        self.configuration = configuration
        var registry = try configuration.makeRegistry()
        let gate = gate
        let arrivals = gateArrivals
        try registry.register(
            RegisteredTask(name: Self.gateTask, description: "blocks until the test opens the gate") { _, _ in
                arrivals.increment()
                gate.wait()
                return .null
            })
        for task in tasks { try registry.register(task) }
        let daemon = try Daemon(
            configuration: configuration, socketPath: socketPath, registry: registry,
            logger: log.logger(label: "pybgd", level: configuration.logLevel))
        self.daemon = daemon
        let outcome = outcome
        serving = Task {
            do {
                try await daemon.run()
                outcome.append(.success(()))
            } catch {
                outcome.append(.failure(error))
            }
        }
        try await waitUntilAnswering()
    }

    deinit {
        gate.open()
        daemon.requestShutdown()
    }

    /// Shuts the daemon down as SIGTERM would (after opening the gate), waits until it has, and
    /// removes its directory. Throws what ``Daemon/run()`` threw.
    public func stop() async throws {
        gate.open()
        daemon.requestShutdown()
        await serving.value
        try? FileManager.default.removeItem(at: directory)
        if case .failure(let error) = outcome.all.first { throw error }
    }

    private func waitUntilAnswering(timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while ContinuousClock.now < deadline {
            if case .failure(let error) = outcome.all.first {
                throw HarnessError("the daemon stopped before it answered: \(error); log:\n\(log.text)")
            }
            if let connection = try? connect(), case .ok = try connection.send(.ping) { return }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw HarnessError("the daemon did not answer on \(socketPath) within \(timeout); log:\n\(log.text)")
    }
}
