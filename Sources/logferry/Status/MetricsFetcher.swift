import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// Where a node's metrics are: `http://HOST:PORT/PATH` or just `HOST:PORT` (path `/metrics`).
struct MetricsURL: Sendable, Hashable, CustomStringConvertible {
    var host: String
    var port: Int
    var path: String

    /// Parses the URL; nil when it has no host or port, or is not plain http.
    init?(parsing text: String) {
        var rest = Substring(text)
        if rest.hasPrefix("http://") {
            rest = rest.dropFirst("http://".count)
        } else if rest.contains("://") {
            return nil
        }
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        path = slash < rest.endIndex ? String(rest[slash...]) : "/metrics"
        guard let colon = authority.lastIndex(of: ":"), let port = Int(authority[authority.index(after: colon)...]),
            (1...65535).contains(port)
        else { return nil }
        var host = String(authority[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self.host = host
        self.port = port
    }

    /// `http://HOST:PORT/PATH`.
    var description: String { "http://\(host.contains(":") ? "[\(host)]" : host):\(port)\(path)" }
}

/// Why a node's metrics could not be read.
struct MetricsFetchError: Error, CustomStringConvertible {
    let description: String
}

/// One `GET` of a metrics endpoint over HTTP/1.1 (SwiftNIO), with a deadline for the whole exchange.
enum MetricsFetcher {
    /// The response body of `GET url`; throws ``MetricsFetchError`` on refusal, timeout or a status other than 200.
    static func fetch(_ url: MetricsURL, timeout: Duration = .seconds(3)) async throws -> String {
        let channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPPart<HTTPRequestHead, IOData>>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.milliseconds(timeout.components.seconds * 1000))
                .connect(host: url.host, port: url.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        return try NIOAsyncChannel<HTTPClientResponsePart, HTTPPart<HTTPRequestHead, IOData>>(
                            wrappingChannelSynchronously: channel)
                    }
                }
        } catch let error as NIOConnectionError {
            // The first address's errno says it best ("Connection refused", "No route to host").
            let reason = error.connectionErrors.first.flatMap { ($0.error as? IOError).map { String(cString: strerror($0.errnoCode)) } }
            throw MetricsFetchError(description: "cannot connect to \(url.host):\(url.port): \(reason ?? "\(error)")")
        } catch {
            throw MetricsFetchError(description: "cannot connect to \(url.host):\(url.port): \(error)")
        }
        let deadline = Task { [channel = channel.channel] in
            try await Task.sleep(for: timeout)
            channel.close(promise: nil)
        }
        defer { deadline.cancel() }
        do {
            return try await channel.executeThenClose { inbound, outbound in
                var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: url.path)
                head.headers.add(name: "Host", value: "\(url.host):\(url.port)")
                head.headers.add(name: "Connection", value: "close")
                try await outbound.write(.head(head))
                try await outbound.write(.end(nil))
                var status: HTTPResponseStatus?
                var body = ByteBuffer()
                for try await part in inbound {
                    switch part {
                    case .head(let response):
                        status = response.status
                    case .body(var chunk):
                        body.writeBuffer(&chunk)
                    case .end:
                        guard status == .ok else {
                            throw MetricsFetchError(description: "HTTP \(status.map { "\($0.code) \($0.reasonPhrase)" } ?? "no status")")
                        }
                        return String(buffer: body)
                    }
                }
                throw MetricsFetchError(description: "the connection closed before the response ended (timeout \(timeout)?)")
            }
        } catch let error as MetricsFetchError {
            throw error
        } catch {
            throw MetricsFetchError(description: "\(error)")
        }
    }
}
