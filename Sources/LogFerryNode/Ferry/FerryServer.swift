import LogFerrySpool
import LogFerryWire
import Logging
import Metrics
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Synchronization

/// The ferry listener: the source through which a relay or receiver takes batches from upstream nodes.
///
/// Each connection gets a task; each batch is checked (CRC, inflate within the limits), appended to the
/// spool, and acknowledged once the spool has made it durable. Batches already stored (a client resending
/// after a reconnect) are acknowledged again without being stored twice. On graceful shutdown the listener
/// stops accepting, finishes the acks of what it has taken, and says bye to every peer.
public final class FerryServer: Service, Sendable {
    let configuration: FerryServerConfiguration
    let spool: Spool
    let registry: UpstreamRegistry
    let marksSnapshotter: SpoolSnapshotter<ListenerState>
    let logger: Logger
    let onListening: @Sendable (SocketAddress) -> Void
    let metrics: FerryServerMetrics
    /// Sessions being served now (checked against ``FerryServerConfiguration/maxSessions``).
    let openSessions = Atomic<Int>(0)
    /// What all sessions together may hold of batches not yet stored.
    let budget: BufferBudget
    /// Connections refused past the session cap, logged once per burst.
    let refusalBurst = RefusalBurst()

    /// The cursor whose state snapshots the resume points.
    static let marksCursor = "ferry-listener-marks"

    /// Rebuilds the resume points from `spool` and prepares the listener; `run()` binds and serves.
    public init(
        configuration: FerryServerConfiguration,
        spool: Spool,
        logger: Logger,
        onListening: @escaping @Sendable (SocketAddress) -> Void = { _ in }
    ) async throws {
        self.configuration = configuration
        self.spool = spool
        self.logger = logger
        self.onListening = onListening
        self.metrics = FerryServerMetrics()
        self.budget = BufferBudget(limit: configuration.maxBufferBytes)
        self.marksSnapshotter = SpoolSnapshotter(spool: spool, cursorName: Self.marksCursor, logger: logger)
        let (state, through) = try await marksSnapshotter.rebuild()
        let owners = Self.decodeOwners(await spool.loadState(Self.ownersState) ?? [])
        self.registry = UpstreamRegistry(state: state, owners: owners, saveOwners: { [spool, logger] owners in
            do {
                try await spool.saveState(FerryServer.ownersState, FerryServer.encodeOwners(owners))
            } catch {
                logger.error("cannot save which host owns which spool id: \(error)")
            }
        })
        self.rebuiltMarks = state
        self.rebuiltThrough = through
        logger.info("resume points rebuilt for \(state.marks.positions.count) sending spool(s) and \(state.ledger.origins.count) origin(s) through local sequence \(through)")
    }

    private let rebuiltMarks: ListenerState
    private let rebuiltThrough: UInt64

    /// Binds, reports the bound address, and serves until graceful shutdown or cancellation.
    public func run() async throws {
        let tlsContext = try configuration.tls?.makeContext()
        // Every session is a socket: thousands of agents need thousands of descriptors.
        let descriptors = FileDescriptorLimit.raiseToHard()
        if descriptors.soft < configuration.maxSessions + 64 {
            logger.warning("this process may open \(descriptors.soft) file descriptors (hard limit \(descriptors.hard)), fewer than --max-sessions \(configuration.maxSessions) needs; connections past it fail at accept. Raise LimitNOFILE= (systemd) or ulimit -Hn, or lower --max-sessions")
        }
        let idle = TimeAmount(configuration.idleTimeout)
        let serverChannel: NIOAsyncChannel<NIOAsyncChannel<Frame, Frame>, Never>
        do {
            serverChannel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: 4096)  // thousands of agents reconnect at once after an outage
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .bind(host: configuration.host, port: configuration.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let pipeline = channel.pipeline.syncOperations
                        if let tlsContext {
                            try pipeline.addHandler(NIOSSLServerHandler(context: tlsContext))
                        }
                        // Idleness is measured in bytes, before the frame decoder: a big frame crawling over a
                        // slow link is progress, not a dead peer.
                        try pipeline.addHandler(IdleStateHandler(readTimeout: idle))
                        // Until the client has authenticated, only a small frame (a client hello) is accepted.
                        let frameLimit = FrameSizeLimit(FerryServer.handshakeFrameBytes)
                        try pipeline.addHandler(IdlePeerCloser(idle: idle, frameLimit: frameLimit))
                        try pipeline.addHandler(ByteToMessageHandler(FrameDecoder(limit: frameLimit)))
                        try pipeline.addHandler(MessageToByteHandler(FrameEncoder()))
                        return try NIOAsyncChannel<Frame, Frame>.accepted(
                            channel, configuration: .init(backPressureStrategy: .init(lowWatermark: 1, highWatermark: 4)))
                    }
                }
        } catch {
            throw FerryServerError.cannotBind(host: configuration.host, port: configuration.port, underlying: error)
        }
        if let address = serverChannel.channel.localAddress {
            onListening(address)
        }
        let snapshotter = marksSnapshotter
        let (marks, through) = (rebuiltMarks, rebuiltThrough)
        // The snapshot follower and the accept loop run side by side; the follower saves its last
        // snapshot when the accept loop has ended.
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await snapshotter.follow(state: marks, through: through)
            }
            try await withGracefulShutdownHandler {
                try await serverChannel.executeThenClose { inbound in
                    try await withThrowingDiscardingTaskGroup { connections in
                        for try await connection in inbound {
                            connections.addTask { await self.serve(connection) }
                        }
                    }
                }
            } onGracefulShutdown: {
                serverChannel.channel.close(promise: nil)
            }
            group.cancelAll()
            try await group.waitForAll()
        }
    }

    /// One connection: handshake, then batches until the peer leaves, fails, or the node shuts down.
    /// The spool state recording which host owns each sending spool id (per-host keys).
    static let ownersState = "ferry-listener-owners"

    /// `HEX-SPOOL-ID HOST` per line.
    static func encodeOwners(_ owners: [SpoolID: String]) -> [UInt8] {
        Array(owners.sorted { $0.value < $1.value }.map { "\($0.key) \($0.value)\n" }.joined().utf8)
    }

    static func decodeOwners(_ bytes: [UInt8]) -> [SpoolID: String] {
        var owners: [SpoolID: String] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            guard let space = line.firstIndex(of: " "), let id = SpoolID(hex: String(line[..<space])) else { continue }
            owners[id] = String(line[line.index(after: space)...])
        }
        return owners
    }

    /// With mutual TLS, how a session reads the certificate its client presented.
    static func clientCertificate(of channel: any Channel, mutualTLS: Bool) -> (@Sendable () async -> NIOSSLCertificate?)? {
        guard mutualTLS else { return nil }
        return { try? await channel.nioSSL_peerCertificate().get() }
    }

    /// The largest frame accepted before the client hello: enough for any hello with a long host name.
    static let handshakeFrameBytes: UInt32 = 8 << 10

    func serve(_ connection: NIOAsyncChannel<Frame, Frame>) async {
        let peer = connection.channel.remoteAddress.map { "\($0)" } ?? "unknown peer"
        var logger = self.logger
        logger[metadataKey: "peer"] = "\(peer)"
        metrics.connections.increment()
        metrics.openConnections.increment()
        defer { metrics.openConnections.decrement() }
        let sessions = openSessions.add(1, ordering: .relaxed).newValue
        defer { openSessions.subtract(1, ordering: .relaxed) }
        if sessions > configuration.maxSessions {
            // Past the cap: say so at once, so the client tries another upstream or backs off.
            metrics.refusals(.retryLater).increment()
            metrics.sessionsRefused.increment()
            if let unlogged = refusalBurst.refused() {
                let since = unlogged > 0 ? "; \(unlogged) more refused since the last such message" : ""
                logger.warning("refusing new connections (latest \(peer)): \(sessions - 1) sessions are open, the maximum (--max-sessions) is \(configuration.maxSessions)\(since). Further refusals are logged at most every \(refusalBurst.interval) and all are counted in logferry_ferry_listener_sessions_refused_total")
            }
            try? await connection.executeThenClose { _, outbound in
                try await outbound.write(.refuse(Refusal(
                    sequence: 0, code: .retryLater,
                    reason: "this node serves \(configuration.maxSessions) sessions at most; retry later or use another upstream")))
            }
            return
        }
        do {
            let clientCertificate = Self.clientCertificate(of: connection.channel, mutualTLS: configuration.tls?.clientCAPath != nil)
            try await connection.executeThenClose { inbound, outbound in
                let frameLimit = try? await connection.channel.pipeline.handler(type: IdlePeerCloser.self).get().frameLimit
                let session = FerryServerSession(
                    server: self, inbound: inbound, outbound: outbound, peer: peer,
                    closeChannel: { [channel = connection.channel] in channel.close(promise: nil) },
                    frameLimit: frameLimit,
                    clientCertificate: clientCertificate,
                    logger: logger
                )
                try await cancelWhenGracefulShutdown { try await session.run() }
            }
        } catch {
            logger.debug("connection from \(peer) ended: \(error)")
        }
    }
}

/// Why a ferry listener could not start.
enum FerryServerError: Error, CustomStringConvertible {
    /// The address is taken or not ours.
    case cannotBind(host: String, port: Int, underlying: any Error)

    /// An operator-facing description.
    var description: String {
        switch self {
        case .cannotBind(let host, let port, let underlying):
            return "cannot listen on \(host):\(port): \(underlying). Is another process using the port? Pick another with --listen."
        }
    }
}

/// Closes a connection that has delivered no byte for the idle time, after telling the peer why.
final class IdlePeerCloser: ChannelDuplexHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let idle: TimeAmount
    /// The connection's frame size limit, raised by the session once the client has authenticated.
    let frameLimit: FrameSizeLimit

    init(idle: TimeAmount, frameLimit: FrameSizeLimit) {
        self.idle = idle
        self.frameLimit = frameLimit
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? IdleStateHandler.IdleStateEvent, event == .read {
            let seconds = idle.nanoseconds / 1_000_000_000
            let refusal = Refusal(sequence: 0, code: .protocolViolation, reason: "nothing received in \(seconds) s; closing (send heartbeats while idle)")
            let closed = context.eventLoop.makePromise(of: Void.self)
            closed.futureResult.whenComplete { [channel = context.channel] _ in channel.close(promise: nil) }
            var buffer = context.channel.allocator.buffer(capacity: 64)
            buffer.writeBytes(Frame.refuse(refusal).encodedBytes())
            context.writeAndFlush(wrapOutboundOut(buffer), promise: closed)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}

/// The listener's metrics.
struct FerryServerMetrics: Sendable {
    let connections = Counter(label: "logferry_ferry_listener_connections_total")
    let openConnections = Meter(label: "logferry_ferry_listener_open_connections")
    let batchesIn = Counter(label: "logferry_ferry_listener_batches_total")
    let bytesIn = Counter(label: "logferry_ferry_listener_bytes_total")
    let eventsIn = Counter(label: "logferry_ferry_listener_events_total")
    let duplicates = Counter(label: "logferry_ferry_listener_duplicate_batches_total")
    let trimmedBatches = Counter(label: "logferry_ferry_listener_trimmed_batches_total")
    let sessionsRefused = Counter(label: "logferry_ferry_listener_sessions_refused_total")
    let budgetRefusals = Counter(label: "logferry_ferry_listener_buffer_budget_refusals_total")
    let malformedFrames = Counter(label: "logferry_ferry_listener_malformed_frames_total")
    let ackLatency = Timer(label: "logferry_ferry_listener_ack_latency_seconds")

    func refusals(_ code: RefusalCode) -> Counter {
        Counter(label: "logferry_ferry_listener_refusals_total", dimensions: [("code", "\(code)")])
    }
}
