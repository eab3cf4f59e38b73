import Hummingbird
import Logging
import NIOCore
import PyBackgroundProtocol
import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `http.listen`: Prometheus metrics at `/metrics`, the dashboard at `/`, and the JSON it reads
/// under `/api/`, served by Hummingbird. Read-only: nothing here changes a task.
///
/// | path | what |
/// |---|---|
/// | `/` | the dashboard (one page, no outside resources) |
/// | `/metrics` | Prometheus text exposition |
/// | `/api/status` | STATUS's payload |
/// | `/api/tasks?offset=N&limit=N&state=a,b` | futures, newest first, a page at a time |
/// | `/api/tasks/ID/output?stream=stdout\|stderr` | a task's kept output, as text |
/// | `/api/schedules` | SCHEDULE LIST's payload |
/// | `/api/throughput` | tasks ended per minute, last hour |
/// | `/api/events` | task events as server-sent events |
/// | `/healthz` | `ok` |
final class HTTPListener: Sendable {
    private let settings: DaemonConfiguration.HTTP
    private let requests: ControlRequestHandler
    private let metrics: DaemonMetrics
    private let events: TaskEvents
    private let eventBuffer: Int
    private let logger: Logger
    private let running = Mutex<Task<Void, Never>?>(nil)

    /// The most futures one `/api/tasks` page holds.
    static let maxPage = 500

    init(
        settings: DaemonConfiguration.HTTP, requests: ControlRequestHandler, metrics: DaemonMetrics, events: TaskEvents, eventBuffer: Int,
        logger: Logger
    ) {
        self.settings = settings
        self.requests = requests
        self.metrics = metrics
        self.events = events
        self.eventBuffer = eventBuffer
        self.logger = logger
    }

    /// Binds and starts serving; throws when the address cannot be bound.
    func start() async throws {
        guard let listen = settings.listen else { return }
        let address: BindAddress
        switch listen {
        case .tcp(let host, let port): address = .hostname(host, port: port)
        case .unix(let path):
            try SocketFile.prepare(path: path)
            address = .unixDomainSocket(path: path)
        }
        let (started, signal) = AsyncStream.makeStream(of: Result<String, any Error>.self)
        var quiet = logger
        quiet.logLevel = .warning
        let app = Application(
            router: makeRouter(),
            configuration: ApplicationConfiguration(address: address, serverName: "pybgd"),
            onServerRunning: { channel in signal.yield(.success(channel.localAddress.map { "\($0)" } ?? "\(listen)")) },
            logger: quiet)
        running.withLock {
            $0 = Task {
                do {
                    try await app.runService()
                } catch {
                    signal.yield(.failure(error))
                }
                signal.finish()
            }
        }
        for await outcome in started {
            let bound = try outcome.get()
            logger.info("http listening", metadata: ["address": "\(bound)", "token": "\(settings.token == nil ? "none" : "required")"])
            return
        }
        throw DaemonError(.socketUnavailable, "the HTTP listener on \(listen) stopped before it listened")
    }

    /// Stops serving (open event streams end).
    func stop() async {
        let task = running.withLock { $0 }
        task?.cancel()
        await task?.value
        if case .unix(let path)? = settings.listen { SocketFile.remove(path: path) }
    }

    private func makeRouter() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        if let token = settings.token { router.add(middleware: BearerTokenMiddleware(token: token)) }
        let requests = self.requests
        let metrics = self.metrics
        router.get("/") { _, _ in Self.response(DashboardPage.html, type: "text/html; charset=utf-8") }
        router.get("/healthz") { _, _ in Self.response("ok\n", type: "text/plain") }
        router.get("/metrics") { _, _ in
            let statistics = requests.scheduler.statistics
            let text = metrics.exposition(
                statistics, queues: requests.scheduler.queues, workers: requests.scheduler.maxWorkers,
                connections: requests.connectionCount.withLock { $0 }.count())
            return Self.response(text, type: "text/plain; version=0.0.4; charset=utf-8")
        }
        router.get("/api/status") { _, _ in Self.response(requests.statusJSON, type: "application/json") }
        router.get("/api/schedules") { _, _ in Self.response(requests.schedulesJSON, type: "application/json") }
        router.get("/api/throughput") { _, _ in
            Self.response(ProtocolJSON.encode(["minutes": metrics.throughput.lastHour()]), type: "application/json")
        }
        router.get("/api/tasks") { request, _ in
            let query = request.uri.queryParameters
            let offset = max(0, query.get("offset", as: Int.self) ?? 0)
            let limit = min(Self.maxPage, max(1, query.get("limit", as: Int.self) ?? 50))
            let states = Set((query.get("state") ?? "").split(separator: ",").map(String.init))
            // A store several hosts share: the cluster's tasks, as TASKS and FUTURES show them.
            guard requests.launcher.persistence.sharedByHosts else {
                return Self.response(requests.futuresPage(offset: offset, limit: limit, states: states), type: "application/json")
            }
            switch await requests.clusterFuturesPage(offset: offset, limit: limit, states: states) {
            case .success(let page): return Self.response(page, type: "application/json")
            case .failure(let error):
                return Response(status: .serviceUnavailable, body: .init(byteBuffer: ByteBuffer(string: "\(error.message)\n")))
            }
        }
        router.get("/api/tasks/:id/output") { request, context in
            let id = try context.parameters.require("id")
            let stream = StandardStream(rawValue: request.uri.queryParameters.get("stream") ?? "stdout") ?? .stdout
            var text = requests.outputText(id, stream: stream)
            if text == nil && requests.launcher.persistence.sharedByHosts { text = await requests.sharedOutputText(id, stream: stream) }
            guard let text else {
                return Response(status: .notFound, body: .init(byteBuffer: ByteBuffer(string: "no task \(id)\n")))
            }
            return Self.response(text, type: "text/plain; charset=utf-8")
        }
        let events = self.events
        let capacity = eventBuffer
        router.get("/api/events") { _, _ in
            let body = ResponseBody { writer in
                // Subscribed here, where the unsubscription is sure to follow: a response whose
                // body is never written (the client left first) leaves no reader behind.
                let stream = ServerSentEvents(capacity: capacity)
                events.subscribe(stream)
                defer {
                    events.unsubscribe(stream)
                    stream.finish()
                }
                // A first line at once, so that the page knows the stream is open.
                try await writer.write(ByteBuffer(string: ": pybgd events\n\n"))
                for await _ in stream.wakes {
                    let text = stream.take()
                    if !text.isEmpty { try await writer.write(ByteBuffer(string: text)) }
                }
                try await writer.finish(nil)
            }
            return Response(
                status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"], body: body)
        }
        return router
    }

    private static func response(_ text: String, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "no-store"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
