import Logging
import LogFerryNode
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle

/// Serves the process's metrics in the Prometheus text format at `GET /metrics`.
struct PrometheusEndpoint: Service {
    let host: String
    let port: Int
    let registry: PrometheusCollectorRegistry
    let logger: Logger

    func run() async throws {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>.accepted(channel)
                }
            }
        if let address = server.channel.localAddress {
            logger.info("metrics on http://\(address)/metrics")
        }
        try await withGracefulShutdownHandler {
            try await server.executeThenClose { inbound in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await connection in inbound {
                        // Scrapers keep connections open; a graceful shutdown must not wait for them.
                        group.addTask { await cancelWhenGracefulShutdown { await serve(connection) } }
                    }
                }
            }
        } onGracefulShutdown: {
            server.channel.close(promise: nil)
        }
    }

    private func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        try? await connection.executeThenClose { inbound, outbound in
            var path = ""
            var keepAlive = true
            for try await part in inbound {
                switch part {
                case .head(let head):
                    path = head.uri
                    keepAlive = head.isKeepAlive
                case .body:
                    break
                case .end:
                    let found = path == "/metrics" || path.hasPrefix("/metrics?")
                    var body = ByteBuffer()
                    if found {
                        body.writeBytes(registry.emitToBuffer())
                    } else {
                        body.writeString("not found: the metrics are at /metrics\n")
                    }
                    var headers = HTTPHeaders()
                    headers.add(name: "Content-Type", value: found ? "text/plain; version=0.0.4" : "text/plain")
                    headers.add(name: "Content-Length", value: "\(body.readableBytes)")
                    try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: found ? .ok : .notFound, headers: headers)))
                    try await outbound.write(.body(.byteBuffer(body)))
                    try await outbound.write(.end(nil))
                    if !keepAlive { return }
                }
            }
        }
    }
}
