import Dispatch
import Logging
import NIOCore
import NIOPosix
import PyBackground
import ServiceLifecycle

/// The `pybgd` daemon as a ``ServiceLifecycle/Service``: a ``BackgroundScheduler`` serving the control
/// protocol on a Unix socket, with one graceful shutdown path whatever starts it (SIGTERM, SIGINT,
/// or the SHUTDOWN verb).
///
/// Build your own daemon with your own tasks:
/// ```swift
/// var registry = try configuration.makeRegistry()       // built-ins and command tasks
/// try registry.register(RegisteredTask(name: "report", description: "…") { context, arguments in … })
/// let daemon = Daemon(configuration: configuration, socketPath: path, registry: registry, logger: logger)
/// try await ServiceGroup(services: [daemon], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).run()
/// ```
public final class Daemon: Service, Sendable {
    public let configuration: DaemonConfiguration
    public let socketPath: String
    private let logger: Logger
    private let scheduler: BackgroundScheduler
    private let cancellation = TaskCancellation()
    private let requests: ControlRequestHandler
    private let shutdownRequests: AsyncStream<Void>
    private let shutdownContinuation: AsyncStream<Void>.Continuation

    public init(configuration: DaemonConfiguration, socketPath: String, registry: TaskRegistry, logger: Logger) {
        self.configuration = configuration
        self.socketPath = socketPath
        self.logger = logger
        self.scheduler = BackgroundScheduler(maxWorkers: configuration.scheduler.maxWorkers,
                                             keepFinished: configuration.scheduler.keepFinished)
        (shutdownRequests, shutdownContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let continuation = shutdownContinuation
        self.requests = ControlRequestHandler(
            scheduler: scheduler, registry: registry, maxPending: configuration.scheduler.maxPending,
            cancellation: cancellation, logger: logger, requestShutdown: { continuation.yield() })
    }

    /// Starts the graceful shutdown, as SIGTERM would.
    public func requestShutdown() {
        shutdownContinuation.yield()
    }

    public func run() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = ControlServer(group: group, configuration: configuration.server, requests: requests, logger: logger)
        requests.connectionCount.withLockedValue { $0 = { server.connectionCount } }
        do {
            try await listen(server)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        logger.info("pybgd ready", metadata: [
            "socket": "\(socketPath)", "workers": "\(scheduler.maxWorkers)",
            "tasks": "\(configuration.commands.count) command, 5 built-in", "version": "\(ControlRequestHandler.version)",
        ])

        await withGracefulShutdownHandler {
            for await _ in shutdownRequests { break }
        } onGracefulShutdown: { [shutdownContinuation] in
            shutdownContinuation.yield()
        }
        await shutDown(server)
        try await group.shutdownGracefully()
    }

    private func listen(_ server: ControlServer) async throws {
        let socket = configuration.socket
        try SocketFile.prepare(path: socketPath)
        do {
            _ = try await SocketFile.withRestrictiveUmask(for: socket.mode) {
                try await server.listen(path: socketPath)
            }
        } catch {
            throw DaemonError(.socketUnavailable, "cannot listen on \(socketPath): \(error)")
        }
        try SocketFile.applyPermissions(path: socketPath, mode: socket.mode, group: socket.group)
    }

    /// The one shutdown path: refuse new tasks, stop the scheduler (cooperative loops end), let
    /// queued and running tasks finish within the timeout, then cancel what is left, answer the
    /// waiting clients, close the connections and remove the socket file.
    private func shutDown(_ server: ControlServer) async {
        let timeout = configuration.shutdown.timeoutSeconds
        let before = scheduler.statistics
        logger.info("shutting down", metadata: [
            "pending": "\(before.pending)", "running": "\(before.running)", "timeout_seconds": "\(timeout)",
        ])
        requests.beginShutdown()
        scheduler.shutdown(wait: false)
        if await !awaitTermination(seconds: timeout) {
            let left = scheduler.statistics
            logger.warning("shutdown timeout ran out: cancelling what is left", metadata: [
                "pending": "\(left.pending)", "running": "\(left.running)",
            ])
            scheduler.shutdown(wait: false, cancelPending: true)
            cancellation.cancelAll()
            if await !awaitTermination(seconds: 10) {
                logger.error("tasks still running after cancellation; exiting without them",
                             metadata: ["running": "\(scheduler.statistics.running)"])
            }
        }
        await server.close(timeout: .seconds(2))
        SocketFile.remove(path: socketPath)
        let after = scheduler.statistics
        logger.info("pybgd stopped", metadata: [
            "finished": "\(after.finished)", "failed": "\(after.failed)", "cancelled": "\(after.cancelled)",
        ])
    }

    /// Waits for every task to end, at most `seconds`, off the concurrency pool (the wait blocks).
    private func awaitTermination(seconds: Double) async -> Bool {
        let scheduler = self.scheduler
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: scheduler.awaitTermination(timeout: .nanoseconds(Int64(seconds * 1e9))))
            }
        }
    }
}
