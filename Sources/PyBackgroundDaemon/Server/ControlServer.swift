import Logging
import NIOCore
import NIOExtras
import NIOPosix
import Synchronization

/// The listening Unix socket and its connections: bootstrap, limits, and a close that lets every
/// connection finish the replies it owes.
final class ControlServer: Sendable {
    private let group: any EventLoopGroup
    private let configuration: DaemonConfiguration.Server
    private let access: AccessPolicy
    private let auditLevel: Logger.Level
    private let requests: ControlRequestHandler
    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var listener: (any Channel)?
        var connections: [ObjectIdentifier: any Channel] = [:]
        var accepted = 0
    }

    /// - Parameter auditLevel: the level each accepted submission is logged at.
    init(
        group: any EventLoopGroup, configuration: DaemonConfiguration.Server, access: AccessPolicy,
        auditLevel: Logger.Level, requests: ControlRequestHandler, logger: Logger
    ) {
        self.auditLevel = auditLevel
        self.group = group
        self.configuration = configuration
        self.access = access
        self.requests = requests
        self.logger = logger
    }

    /// Connections open now.
    var connectionCount: Int { state.withLock { $0.connections.count } }

    /// Binds a new socket file at `path` (already prepared by ``SocketFile/prepare(path:)``).
    func listen(path: String) async throws -> any Channel {
        try await register(bootstrap.bind(unixDomainSocketPath: path).get())
    }

    /// Serves a listening socket passed in by systemd (socket activation).
    func adopt(descriptor: Int32) async throws -> any Channel {
        try await register(bootstrap.withBoundSocket(descriptor).get())
    }

    private func register(_ channel: any Channel) -> any Channel {
        state.withLock { $0.listener = channel }
        return channel
    }

    private var bootstrap: ServerBootstrap {
        ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 64 * 1024, high: 256 * 1024))
            .childChannelInitializer { [self] channel in
                peerCredentials(of: channel).flatMapThrowing { peer in
                    try self.initialize(channel, peer: peer)
                }
            }
    }

    /// The kernel's record of the connecting process (SO_PEERCRED).
    private func peerCredentials(of channel: any Channel) -> EventLoopFuture<PeerCredentials> {
        guard let socket = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(ChannelError.operationUnsupported)
        }
        let raw: EventLoopFuture<PeerCredentials.Raw> = socket.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
        return raw.map(PeerCredentials.init)
    }

    private func initialize(_ channel: any Channel, peer: PeerCredentials) throws {
        let handlers = channel.pipeline.syncOperations
        // The group database is read here, on the event loop, only for a peer whose uid and primary
        // group do not decide: quick with local files; a slow NSS source (LDAP) would delay accepts.
        guard access.allows(peer, groupsOfUser: { SystemAccounts.groups(ofUser: $0.uid, primaryGroup: $0.gid) }) else {
            logger.warning("connection refused: not allowed", metadata: ["uid": "\(peer.uid)", "gid": "\(peer.gid)", "pid": "\(peer.pid)"])
            try handlers.addHandler(
                ConnectionRefusalHandler(
                    .error(
                        .permissionDenied, "uid \(peer.uid) may not use this pybgd (access.allow_users and access.allow_groups of its config say who may)")))
            return
        }
        let (admitted, number) = state.withLock { state -> (Bool, Int) in
            state.accepted += 1
            guard state.connections.count < configuration.maxConnections else { return (false, state.accepted) }
            state.connections[ObjectIdentifier(channel)] = channel
            return (true, state.accepted)
        }
        guard admitted else {
            logger.warning(
                "connection refused: at the limit", metadata: ["limit": "\(configuration.maxConnections)", "uid": "\(peer.uid)", "pid": "\(peer.pid)"])
            try handlers.addHandler(
                ConnectionRefusalHandler(
                    .error(
                        .tooManyConnections, "the daemon holds its maximum of \(configuration.maxConnections) connections; try again later")))
            return
        }
        channel.closeFuture.whenComplete { [self] _ in
            state.withLock { _ = $0.connections.removeValue(forKey: ObjectIdentifier(channel)) }
        }
        // A client that never reads its replies stops being read from (no unbounded output buffer).
        try handlers.addHandler(BackPressureHandler())
        if let idle = configuration.idleTimeoutSeconds {
            try handlers.addHandler(IdleStateHandler(readTimeout: .nanoseconds(Int64(idle * 1e9))))
        }
        // The decoder keeps at most one line and a little: past that it is a line too long.
        try handlers.addHandler(ByteToMessageHandler(LineBasedFrameDecoder(), maximumBufferSize: configuration.maxLineBytes + 2))
        try handlers.addHandler(ControlLineCodec(maxLineBytes: configuration.maxLineBytes))
        try handlers.addHandler(
            ConnectionHandler(
                requests: requests, maxLineBytes: configuration.maxLineBytes, idleTimeoutSeconds: configuration.idleTimeoutSeconds,
                info: ConnectionInfo(number: number, peer: peer, audit: SubmissionAudit(peer: peer, logger: logger, level: auditLevel)),
                logger: logger))
    }

    /// Stops accepting, asks every connection to close once it has written what it owes, and
    /// waits for them (at most `timeout`).
    func close(timeout: TimeAmount) async {
        let (listener, connections) = state.withLock { ($0.listener, Array($0.connections.values)) }
        try? await listener?.close()
        for channel in connections {
            channel.pipeline.fireUserInboundEventTriggered(ConnectionHandler.CloseWhenDone())
        }
        let deadline = NIODeadline.now() + timeout
        for channel in connections {
            let closed = channel.closeFuture
            let timer = channel.eventLoop.scheduleTask(deadline: deadline) { channel.close(promise: nil) }
            try? await closed.get()
            timer.cancel()
        }
    }
}
