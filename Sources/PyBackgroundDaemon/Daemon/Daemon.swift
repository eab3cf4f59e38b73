import Dispatch
import Logging
import NIOCore
import NIOPosix
import PyBackground
import PyBackgroundState
import ServiceLifecycle
import UnixSignals

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The `pybgd` daemon as a ``ServiceLifecycle/Service``: a ``BackgroundScheduler`` serving the control
/// protocol on a Unix socket, with one graceful shutdown path whatever starts it (SIGTERM, SIGINT,
/// or the SHUTDOWN verb). Its task tables live in a state store (SQLite) unless configured to stay
/// in memory: it recovers them when it starts, before it accepts connections. Under systemd it
/// reports readiness, status, stopping and reloads, sends watchdog keep-alives, and adopts the
/// listening socket of `pybgd.socket`; SIGHUP reloads the command tasks from the config file.
///
/// Build your own daemon with your own tasks:
/// ```swift
/// var registry = try configuration.makeRegistry()       // built-ins and command tasks
/// try registry.register(RegisteredTask(name: "report", description: "…") { context, arguments in … })
/// let daemon = try Daemon(configuration: configuration, socketPath: path, registry: registry, logger: logger)
/// try await ServiceGroup(services: [daemon], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).run()
/// ```
public final class Daemon: Service, Sendable {
    /// The configuration it started with.
    public let configuration: DaemonConfiguration
    /// Read again on SIGHUP; nil: nothing to reload.
    public let configurationPath: String?
    /// The socket it binds when systemd passes none.
    public let socketPath: String
    private let logger: Logger
    private let scheduler: BackgroundScheduler
    private let cancellation = TaskCancellation()
    /// Every task's state changes, for EVENTS readers and the metrics.
    private let events = TaskEvents()
    /// The metrics and the dashboard, when `http.listen` is set.
    private let http: HTTPListener?
    private let launcher: TaskLauncher
    private let schedules: ScheduleBook
    private let registry: TaskRegistry
    private let requests: ControlRequestHandler
    private let shutdownRequests: AsyncStream<Void>
    private let shutdownContinuation: AsyncStream<Void>.Continuation
    private let notifier = SystemdNotifier()
    /// Tasks registered through the Swift API, kept across reloads (only command tasks are reloaded).
    private let customTasks: [RegisteredTask]

    /// Opens the state store (unless `configuration.state.store` is `.memory`); nothing runs until ``run()``.
    ///
    /// - Parameters:
    ///   - configurationPath: the file SIGHUP reloads the command tasks from.
    ///   - registry: the tasks clients may start; `configuration.makeRegistry()` plus your own.
    /// - Throws: ``DaemonError/Code/stateStore`` when the store cannot be opened or is damaged; it is
    ///   left as it is.
    public init(
        configuration: DaemonConfiguration, configurationPath: String? = nil, socketPath: String,
        registry: TaskRegistry, logger: Logger
    ) throws(DaemonError) {
        self.configuration = configuration
        self.configurationPath = configurationPath
        self.socketPath = socketPath
        self.registry = registry
        self.customTasks = registry.tasks.filter { $0.kind == .custom }
        self.logger = logger
        if registry.tasks.contains(where: { $0.kind == .command }), case .failure(let missing) = CommandExecHelper.path {
            throw DaemonError(.helperMissing, missing.message)
        }
        self.scheduler = BackgroundScheduler(
            maxWorkers: configuration.scheduler.maxWorkers,
            keepFinished: configuration.scheduler.keepFinished, observer: events)
        do {
            try configuration.checkQueues(workers: scheduler.maxWorkers)
        } catch {
            throw DaemonError(.configuration, error.description)
        }
        for queue in configuration.queues { scheduler.configureQueue(queue.name, maxRunning: queue.maxRunning) }
        if configuration.state.store == .postgresql,
            let loose = configuration.schedules.first(where: { if case .every = $0.spec.trigger { $0.spec.start == nil } else { false } })
        {
            // Each host would start its own grid where it first stored the schedule: ticks apart by
            // a fraction of the span, and one task per host per span instead of one.
            throw DaemonError(
                .configuration,
                "schedules.\(loose.name): every: on a shared store (state.store: postgresql) needs start: (a time on the grid every host shares, such as 2026-01-01T00:00:00Z)"
            )
        }
        let persistence: any TaskPersistence
        let outputs: TaskOutputs
        do {
            persistence = try PersistenceBackend.open(configuration, workers: scheduler.maxWorkers, logger: logger)
        } catch {
            throw DaemonError(.stateStore, error.description)
        }
        do {
            outputs = TaskOutputs(
                storage: try PersistenceBackend.openOutput(configuration.state), maxBytes: configuration.output.maxBytes, logger: logger)
        } catch {
            throw DaemonError(.stateStore, "tasks' output cannot be kept: \(error)")
        }
        self.launcher = TaskLauncher(
            scheduler: scheduler, persistence: persistence, outputs: outputs, events: events, cancellation: cancellation, logger: logger)
        (shutdownRequests, shutdownContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let continuation = shutdownContinuation
        persistence.useRegistry(registry)
        persistence.useOutputs(outputs)
        self.schedules = ScheduleBook(launcher: launcher, registry: registry, logger: logger)
        self.requests = ControlRequestHandler(
            launcher: launcher, schedules: schedules, registry: registry, maxPending: configuration.scheduler.maxPending,
            maxScheduled: configuration.scheduler.maxScheduled, killGraceSeconds: configuration.scheduler.killGraceSeconds,
            eventSettings: configuration.events, logger: logger, requestShutdown: { continuation.yield() })
        if configuration.http.listen != nil {
            // Metrics count from the start: they listen to every event from here on.
            let metrics = DaemonMetrics()
            events.subscribe(metrics)
            persistence.observeCommits { metrics.committed(in: $0) }
            http = HTTPListener(
                settings: configuration.http, requests: requests, metrics: metrics, events: events,
                eventBuffer: configuration.events.buffer, logger: logger)
        } else {
            http = nil
        }
    }

    /// Starts the graceful shutdown, as SIGTERM would.
    public func requestShutdown() {
        shutdownContinuation.yield()
    }

    /// Serves until a graceful shutdown has run to its end. Throws ``DaemonError`` when the socket cannot be used.
    public func run() async throws {
        try recover()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let socket = configuration.socket
        let access = AccessPolicy(
            access: configuration.access,
            socketGroup: socket.mode == 0o660 ? socket.group.flatMap(SystemAccounts.groupID) : nil,
            daemonUser: geteuid())
        let server = ControlServer(
            group: group, configuration: configuration.server, access: access,
            auditLevel: configuration.logSubmissions ? .info : .debug, requests: requests, logger: logger)
        requests.connectionCount.withLock { $0 = .init { server.connectionCount } }
        let activated: Bool
        do {
            // The HTTP listener first: once the control socket answers, everything does.
            do {
                try await http?.start()
            } catch {
                throw DaemonError(.socketUnavailable, "cannot serve HTTP on \(configuration.http.listen.map { "\($0)" } ?? "-"): \(error)")
            }
            if let descriptor = try SystemdNotifier.passedListeningSocket() {
                _ = try await server.adopt(descriptor: descriptor)
                activated = true
            } else {
                try await listen(server)
                activated = false
            }
        } catch {
            await http?.stop()
            try? await group.shutdownGracefully()
            // Recovered tasks may be queued already: they stay in the store for the next start.
            launcher.beginCancellingForShutdown()
            scheduler.shutdown(wait: false, cancelPending: true)
            _ = await closeStore()
            throw error
        }
        // Trap SIGHUP before announcing readiness: systemd may send a reload as soon as we are ready,
        // and an untrapped SIGHUP would end the process.
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        // Only now does the socket accept connections: that is what READY=1 promises.
        notifier.ready(status: statusLine())
        logger.info(
            "pybgd ready",
            metadata: [
                "socket": "\(activated ? "passed by systemd" : socketPath)", "workers": "\(scheduler.maxWorkers)",
                "tasks": "\(configuration.commands.count) command, 5 built-in", "version": "\(ControlRequestHandler.version)",
            ])

        // The watchdog keeps going through the shutdown's drain, which may outlast WatchdogSec.
        let watchdog = notifier.watchdogInterval.map { interval in
            Task { [notifier] in
                while !Task.isCancelled {
                    notifier.watchdog()
                    try? await Task.sleep(for: interval)
                }
            }
        }
        await withTaskGroup(of: Void.self) { background in
            background.addTask { await self.reportStatus() }
            background.addTask { await self.housekeeping() }
            background.addTask { await self.reload(on: hangups) }
            await withGracefulShutdownHandler {
                for await _ in shutdownRequests { break }
            } onGracefulShutdown: { [shutdownContinuation] in
                shutdownContinuation.yield()
            }
            background.cancelAll()
        }
        notifier.stopping()
        let unwritten = await shutDown(server, removeSocketFile: !activated)
        watchdog?.cancel()
        try await group.shutdownGracefully()
        if !unwritten.isEmpty {
            throw DaemonError(
                .stateStore,
                "the ends of \(unwritten.count) task(s) could not be written to the state store (\(unwritten.prefix(5).map(\.description).joined(separator: ", "))\(unwritten.count > 5 ? ", …" : "")); after a restart they read as interrupted, or run again if their task is retry_if_interrupted"
            )
        }
    }

    /// Brings back the tables of the last run before anything is accepted: a start after a crash
    /// (or an upgrade) goes on where the last one stopped.
    private func recover() throws(DaemonError) {
        do {
            // Before the tasks: a recovered task of a paused queue must not start.
            for name in try launcher.persistence.pausedQueues() {
                do {
                    try scheduler.pauseQueue(name)
                } catch {
                    logger.warning("a queue paused before the restart is no longer configured", metadata: ["queue": "\(name)"])
                }
            }
            // Before the tasks too: a task run again appends to what its earlier attempts wrote.
            let outputs = launcher.outputs.recover()
            let summary = try TaskRecovery(launcher: launcher, registry: registry).recover()
            // Output of tasks the tables no longer hold (retention ran, the store was replaced) goes.
            let futures = scheduler.futures
            launcher.outputs.removeAll { futures[$0] != nil }
            logger.info(
                "state store opened",
                metadata: [
                    "path": "\(launcher.persistence.location)", "recovered": "\(summary)",
                    "output": "\(launcher.outputs.location) (\(outputs) tasks)",
                ])
        } catch {
            throw DaemonError(.stateStore, error.description)
        }
        // After the tasks: a firing due at once finds its previous task in the tables.
        try schedules.start(configured: configuration.schedules)
    }

    /// Every few seconds: retention by age, the store's share of retention by count, and giving
    /// back memory a large reply left free.
    private func housekeeping() async {
        let scheduler = configuration.scheduler
        let retention = scheduler.keepFinishedSeconds != nil || scheduler.keepFinished != nil
        while !Task.isCancelled {
            if retention {
                launcher.applyRetention(keepFinished: scheduler.keepFinished, maxAgeSeconds: scheduler.keepFinishedSeconds)
            }
            HeapTrim.ifRequested()
            try? await Task.sleep(for: Self.retentionInterval)
        }
    }

    /// How often retention runs: an ended task outlives its age limit by at most this much.
    static let retentionInterval = Duration.seconds(5)

    private func statusLine() -> String {
        let statistics = scheduler.statistics
        let line = "\(statistics.pending) pending, \(statistics.running) running, \(statistics.finished) finished, \(statistics.failed) failed"
        return launcher.persistence.health.map { "\(line); \($0)" } ?? line
    }

    /// Keeps systemd's STATUS= current (what `systemctl status pybgd` shows).
    private func reportStatus() async {
        var last = ""
        while !Task.isCancelled {
            let line = statusLine()
            if line != last {
                notifier.status(line)
                last = line
            }
            try? await Task.sleep(for: .seconds(2))
        }
    }

    /// SIGHUP: read the config file again and swap in its command tasks for new submissions.
    /// Running and queued tasks keep what they were bound to; a bad file is refused and logged,
    /// and the old tasks stay. Other settings (socket, workers, limits) take a restart.
    private func reload(on hangups: UnixSignalsSequence) async {
        for await _ in hangups {
            notifier.reloading()
            reload()
            notifier.ready(status: statusLine())
        }
    }

    private func reload() {
        guard let configurationPath else {
            logger.warning("SIGHUP: no --config file to reload; nothing changed")
            return
        }
        do {
            let fresh = try ConfigurationLoader.load(path: configurationPath)
            try fresh.checkQueues(workers: scheduler.maxWorkers)
            var registry = try fresh.makeRegistry()
            for task in customTasks { try registry.register(task) }
            if case .failure(let error) = schedules.reconcile(fresh.schedules, registry: registry) {
                throw DaemonError(.configuration, error.message)
            }
            // New queues and limits apply at once; a queue dropped from the file stays until a restart
            // (tasks may still wait in it).
            for queue in fresh.queues { scheduler.configureQueue(queue.name, maxRunning: queue.maxRunning) }
            requests.replaceRegistry(registry)
            launcher.persistence.useRegistry(registry)
            logger.info(
                "reloaded the command tasks",
                metadata: [
                    "config": "\(configurationPath)", "tasks": "\(fresh.commands.map(\.name).joined(separator: ", "))",
                ])
        } catch {
            logger.error("reload refused; the previous tasks stay", metadata: ["reason": "\(error)"])
        }
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
    /// waiting clients, close the connections and remove the socket file. Returns the tasks whose
    /// end the state store could not take, even when tried again.
    private func shutDown(_ server: ControlServer, removeSocketFile: Bool) async -> [TaskID] {
        let timeout = configuration.shutdown.timeoutSeconds
        let before = scheduler.statistics
        logger.info(
            "shutting down",
            metadata: [
                "pending": "\(before.pending)", "running": "\(before.running)", "timeout_seconds": "\(timeout)",
                "scheduled": "\(before.scheduled)",
            ])
        requests.beginShutdown()
        launcher.persistence.beginShutdown()
        scheduler.shutdown(wait: false)
        if await !awaitTermination(seconds: timeout) {
            let left = scheduler.statistics
            logger.warning(
                "shutdown timeout ran out: cancelling what is left",
                metadata: [
                    "pending": "\(left.pending)", "running": "\(left.running)",
                ])
            launcher.beginCancellingForShutdown()
            scheduler.shutdown(wait: false, cancelPending: true)
            cancellation.cancelAll()
            if await !awaitTermination(seconds: 10) {
                logger.error(
                    "tasks still running after cancellation; exiting without them",
                    metadata: ["running": "\(scheduler.statistics.running)"])
            }
        }
        await server.close(timeout: .seconds(2))
        await http?.stop()
        // Every end recorded is on disk before the process goes; a store that still cannot write
        // (a full disk) gets a last ten seconds.
        let unwritten = await closeStore()
        // A socket passed by systemd stays: pybgd.socket owns it and listens on while pybgd is down.
        if removeSocketFile { SocketFile.remove(path: socketPath) }
        let after = scheduler.statistics
        logger.info(
            "pybgd stopped",
            metadata: [
                "finished": "\(after.finished)", "failed": "\(after.failed)", "cancelled": "\(after.cancelled)",
            ])
        return unwritten
    }

    /// Writes what the store still holds (trying for up to 10 s) and closes it, off the
    /// concurrency pool: the close blocks, and a shared store's close waits for its own async loops.
    private func closeStore() async -> [TaskID] {
        let launcher = self.launcher
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: launcher.close(retrying: .seconds(10))) }
        }
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
