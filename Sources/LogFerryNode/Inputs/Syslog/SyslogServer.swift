import Logging
import NIOCore
import NIOPosix
import Synchronization

/// A value behind a lock, shared by the tasks of the listener.
final class SyslogLocked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<R: Sendable>(_ body: (inout sending Value) -> sending R) -> R { mutex.withLock(body) }
}

/// Limits on the syslog TCP listener: how many connections at once, and how long one may stay silent.
public struct SyslogTCPLimits: Sendable, Hashable {
    /// Connections past this many open ones are closed at once (counted, logged with the peer).
    public var maxConnections: Int
    /// A connection that sends nothing for this long is closed (counted, logged with the peer). A connection
    /// held back because the spool is full is not idle: only time spent waiting for the peer counts.
    public var idleTimeout: Duration

    /// The defaults: 1024 connections, 300 s.
    public init(maxConnections: Int = 1024, idleTimeout: Duration = .seconds(300)) {
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
    }
}

/// The syslog listeners: TCP (RFC 6587 framing, see ``SyslogFrameDecoder``) and UDP (one datagram is one message).
///
/// ```swift
/// let server = try await SyslogServer(tcp: try .init(ipAddress: "0.0.0.0", port: 514), udp: nil, logger: logger)
/// try await server.run { message in try await batcher.add(message) }
/// ```
///
/// Each parsed message is handed to the `onMessage` closure of ``run(onMessage:)`` and awaited before the next one
/// of that connection: a slow consumer stops reading from the socket (TCP senders block; for UDP the kernel buffer
/// fills and then drops, as UDP syslog always does). Messages that are received but not yet handed on when the
/// process is killed are lost; nothing upstream resends them.
struct SyslogServer: Sendable {
    /// The address the TCP listener is bound to (with the real port when bound to port 0).
    let tcpAddress: SocketAddress?
    /// The address the UDP listener is bound to (with the real port when bound to port 0).
    let udpAddress: SocketAddress?
    /// Messages longer than this are cut (and counted in `logferry_syslog_messages_truncated_total`).
    let maxMessageBytes: Int
    /// The TCP connection cap and idle timeout.
    let limits: SyslogTCPLimits

    private let tcpChannel: NIOAsyncChannel<NIOAsyncChannel<SyslogFrame, Never>, Never>?
    private let udpChannel: NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>?
    private let logger: Logger

    /// Binds the listeners (either may be nil). Call ``run(onMessage:)`` to serve them; it closes them when it
    /// returns.
    init(
        tcp: SocketAddress?,
        udp: SocketAddress?,
        maxMessageBytes: Int = 64 * 1024,
        limits: SyslogTCPLimits = SyslogTCPLimits(),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) async throws {
        let maxMessageBytes = max(1, maxMessageBytes)
        self.maxMessageBytes = maxMessageBytes
        self.limits = limits
        self.logger = logger
        if let tcp {
            let channel = try await ServerBootstrap(group: eventLoopGroup)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelOption(.backlog, value: 256)
                .childChannelOption(.maxMessagesPerRead, value: 16)
                .bind(to: tcp) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            ByteToMessageHandler(SyslogFrameDecoder(maxMessageBytes: maxMessageBytes))
                        )
                        return try NIOAsyncChannel<SyslogFrame, Never>.accepted(
                            channel, configuration: .init(backPressureStrategy: .init(lowWatermark: 4, highWatermark: 64)))
                    }
                }
            tcpChannel = channel
            tcpAddress = channel.channel.localAddress
        } else {
            tcpChannel = nil
            tcpAddress = nil
        }
        if let udp {
            do {
                let channel = try await DatagramBootstrap(group: eventLoopGroup)
                    .channelOption(.socketOption(.so_reuseaddr), value: 1)
                    .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
                    .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65_536))
                    .channelOption(.maxMessagesPerRead, value: 16)
                    .bind(to: udp) { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(
                                wrappingChannelSynchronously: channel,
                                configuration: .init(backPressureStrategy: .init(lowWatermark: 16, highWatermark: 256))
                            )
                        }
                    }
                udpChannel = channel
                udpAddress = channel.channel.localAddress
            } catch {
                try? await tcpChannel?.channel.close()
                throw error
            }
        } else {
            udpChannel = nil
            udpAddress = nil
        }
    }

    /// Serves both listeners until the task is cancelled (then it returns normally, having closed them), one child
    /// task per TCP connection. A connection that fails is logged, counted and closed; the others go on. An error
    /// thrown by `onMessage` ends `run` with that error.
    func run(onMessage: @escaping @Sendable (SyslogMessage) async throws -> Void) async throws {
        do {
            try await serve(onMessage: onMessage)
        } catch is CancellationError where Task.isCancelled {
            return
        }
    }

    private func serve(onMessage: @escaping @Sendable (SyslogMessage) async throws -> Void) async throws {
        try await withThrowingDiscardingTaskGroup { group in
            if let udpChannel {
                group.addTask { try await serveUDP(udpChannel, onMessage: onMessage) }
            }
            if let tcpChannel {
                let open = SyslogLocked(0)
                let maxConnections = max(1, limits.maxConnections)
                try await tcpChannel.executeThenClose { connections in
                    for try await connection in connections {
                        let admitted = open.withLock { count in
                            guard count < maxConnections else { return false }
                            count += 1
                            return true
                        }
                        guard admitted else {
                            SyslogMetrics.connectionsRefused.increment()
                            let peer = connection.channel.remoteAddress.map { "\($0)" } ?? "unknown peer"
                            logger.warning(
                                "syslog connection refused and closed: \(maxConnections) connections are open (syslog-max-connections)",
                                metadata: ["peer": "\(peer)"]
                            )
                            connection.channel.close(promise: nil)
                            continue
                        }
                        group.addTask {
                            defer { open.withLock { $0 -= 1 } }
                            try await serveTCP(connection, onMessage: onMessage)
                        }
                    }
                }
            }
        }
    }

    /// Wraps an error from the consumer so it is told apart from connection errors.
    private struct ConsumerError: Error {
        var underlying: any Error
    }

    private func serveTCP(
        _ connection: NIOAsyncChannel<SyslogFrame, Never>,
        onMessage: @Sendable (SyslogMessage) async throws -> Void
    ) async throws {
        let metrics = SyslogMetrics(transport: "tcp")
        let peer = connection.channel.remoteAddress.map { "\($0)" } ?? "unknown peer"
        SyslogMetrics.connections.increment()
        defer { SyslogMetrics.connections.decrement() }
        logger.debug("syslog connection opened", metadata: ["peer": "\(peer)"])
        var reportedTruncation = false
        // Idle means waiting for the peer: time spent handing a message on (a full spool) does not count.
        let activity = SyslogLocked((since: ContinuousClock.now, busy: false))
        let idleTimeout = limits.idleTimeout
        let channel = connection.channel
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { [logger] in
                    let check = min(idleTimeout / 4, .seconds(1))
                    while !Task.isCancelled {
                        try? await Task.sleep(for: check)
                        if Task.isCancelled { return }
                        let idle = activity.withLock { !$0.busy && ContinuousClock.now - $0.since >= idleTimeout }
                        if idle {
                            SyslogMetrics.idleClosed.increment()
                            logger.warning("syslog connection closed: nothing received for \(idleTimeout) (syslog-idle-timeout)", metadata: ["peer": "\(peer)"])
                            channel.close(promise: nil)
                            return
                        }
                    }
                }
                defer { group.cancelAll() }
                try await connection.executeThenClose { frames in
                    for try await frame in frames {
                        activity.withLock { $0 = (.now, true) }
                        let message = SyslogParser.parse(Array(frame.bytes.readableBytesView))
                        metrics.record(message, truncated: frame.truncated)
                        if frame.truncated, !reportedTruncation {
                            reportedTruncation = true
                            logger.warning(
                                "syslog message longer than \(maxMessageBytes) bytes was cut (further cuts on this connection are only counted); raise the maximum message size if such messages are expected",
                                metadata: ["peer": "\(peer)"]
                            )
                        }
                        do {
                            try await onMessage(message)
                        } catch {
                            throw ConsumerError(underlying: error)
                        }
                        activity.withLock { $0 = (.now, false) }
                    }
                }
            }
            logger.debug("syslog connection closed", metadata: ["peer": "\(peer)"])
        } catch let error as ConsumerError {
            throw error.underlying
        } catch is CancellationError where Task.isCancelled {
            return
        } catch {
            SyslogMetrics.connectionErrors.increment()
            logger.warning("syslog connection failed and was closed: \(error)", metadata: ["peer": "\(peer)"])
        }
    }

    private func serveUDP(
        _ channel: NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>,
        onMessage: @Sendable (SyslogMessage) async throws -> Void
    ) async throws {
        let metrics = SyslogMetrics(transport: "udp")
        let maxMessageBytes = self.maxMessageBytes
        do {
            try await channel.executeThenClose { datagrams, _ in
                for try await datagram in datagrams {
                    var bytes = Array(datagram.data.readableBytesView)
                    while let last = bytes.last, last == 10 || last == 13 || last == 0 { bytes.removeLast() }
                    let truncated = bytes.count > maxMessageBytes
                    if truncated { bytes.removeLast(bytes.count - maxMessageBytes) }
                    if bytes.isEmpty { continue }
                    let message = SyslogParser.parse(bytes)
                    metrics.record(message, truncated: truncated)
                    do {
                        try await onMessage(message)
                    } catch {
                        throw ConsumerError(underlying: error)
                    }
                }
            }
        } catch let error as ConsumerError {
            throw error.underlying
        }
    }
}
