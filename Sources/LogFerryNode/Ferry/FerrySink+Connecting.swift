import Foundation
import LogFerryWire
import NIOCore
import NIOPosix
import NIOSSL

extension FerrySink {
    /// Opens a connection to `upstream`: TCP (and TLS), the frame coders, and idleness measured in bytes
    /// received, so a peer that sends nothing at all for the liveness timeout is dropped.
    func connect(to upstream: Upstream) async throws -> NIOAsyncChannel<Frame, Frame> {
        let tlsContext = try configuration.tls?.makeContext()
        let serverName = configuration.tls?.serverName ?? (upstream.host.isIPAddress ? nil : upstream.host)
        let idle = TimeAmount(configuration.idleTimeout)
        do {
            return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(TimeAmount(configuration.connectTimeout))
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .connect(host: upstream.host, port: upstream.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let pipeline = channel.pipeline.syncOperations
                        if let tlsContext {
                            try pipeline.addHandler(NIOSSLClientHandler(context: tlsContext, serverHostname: serverName))
                        }
                        try pipeline.addHandler(IdleStateHandler(readTimeout: idle))
                        try pipeline.addHandler(IdleConnectionCloser())
                        try pipeline.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameBytes: WireLimits.default.maxFrameBytes)))
                        try pipeline.addHandler(MessageToByteHandler(FrameEncoder()))
                        return try NIOAsyncChannel<Frame, Frame>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw FerrySinkError.cannotConnect(upstream, error)
        }
    }
}

/// Closes a client connection whose peer has sent no byte (not even a heartbeat) for the idle time.
final class IdleConnectionCloser: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? IdleStateHandler.IdleStateEvent, event == .read {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}

extension String {
    /// Whether this is a literal IPv4 or IPv6 address (TLS then verifies no host name).
    var isIPAddress: Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, self, &v4) == 1 || inet_pton(AF_INET6, self, &v6) == 1
    }
}
