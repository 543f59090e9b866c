import Foundation
import LogFerryNATS
import LogFerryTestSupport
import Logging

/// Runs `body` with one fresh `nats-server` (JetStream on unless asked otherwise) and tears it down.
func withNATSServer<T: Sendable>(
    jetStream: Bool = true,
    extraArguments: [String] = [],
    _ body: @Sendable (NATSCluster) async throws -> T
) async throws -> T {
    let directory = try TemporaryDirectory("nats")
    let children = ChildProcesses()
    defer {
        children.killAll()
        directory.remove()
    }
    let cluster = try NATSCluster(
        size: 1, directory: directory.path, children: children, jetStream: jetStream, extraArguments: extraArguments)
    try await cluster.start()
    let result = try await body(cluster)
    await cluster.stopAll()
    return result
}

/// Connects to `cluster` with short timeouts, for tests.
func connect(_ cluster: NATSCluster, user: String? = nil) async throws -> NATSConnection {
    let servers = cluster.servers.map { server in
        user.map { "nats://\($0)@127.0.0.1:\(server.port)" } ?? server.url
    }
    return try await NATSConnection.connect(
        NATSConnectionOptions(servers: servers, name: "logferry-test", requestTimeout: .seconds(3)),
        logger: Logger(label: "test.nats"))
}
