import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real NATS cluster for a test: `size` `nats-server` processes (Debian's package) on free loopback ports, each
/// with JetStream and its own store directory, routed to each other. A server can be SIGKILLed and started again
/// on the same ports and store, as an operator's crash would.
///
/// Every process is registered with the test's ``ChildProcesses``; ``stopAll()`` (or `killAll()`) ends them. The
/// store directories live under `directory`, which the test removes.
public final class NATSCluster: @unchecked Sendable {
    /// One server: its name, ports and store.
    public struct Server: Sendable {
        /// The server's name (`n1`, `n2`, ...).
        public let name: String
        /// The client port.
        public let port: Int
        /// The cluster (route) port.
        public let clusterPort: Int
        /// The monitoring (HTTP) port: `/healthz` says when JetStream is ready.
        public let monitorPort: Int
        /// The JetStream store directory.
        public let storeDirectory: String

        /// `nats://127.0.0.1:PORT`.
        public var url: String { "nats://127.0.0.1:\(port)" }
    }

    /// Where `nats-server` is (the Debian package installs it in /usr/bin).
    public static let serverPath = ["/usr/bin/nats-server", "/usr/sbin/nats-server", "/usr/local/bin/nats-server"]
        .first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/bin/nats-server"

    /// Whether `nats-server` is installed.
    public static var isAvailable: Bool { FileManager.default.isExecutableFile(atPath: serverPath) }

    /// The servers.
    public let servers: [Server]
    private let directory: String
    private let children: ChildProcesses
    private let jetStream: Bool
    private let extraArguments: [String]
    private let lock = NSLock()
    private var running: [Int: ToolProcess] = [:]
    private var starts: [Int: Int] = [:]

    /// Picks ports and directories for `size` servers under `directory`; `start()` runs them. With `jetStream`
    /// false the servers run without JetStream (to test that error); `extraArguments` go to every server (e.g.
    /// `--config FILE` with users and permissions).
    public init(
        size: Int = 3, directory: String, children: ChildProcesses, jetStream: Bool = true, extraArguments: [String] = []
    ) throws {
        var servers: [Server] = []
        for index in 1...size {
            let store = directory + "/nats-n\(index)"
            try FileManager.default.createDirectory(atPath: store, withIntermediateDirectories: true)
            servers.append(Server(
                name: "n\(index)", port: try freeTCPPort(), clusterPort: try freeTCPPort(), monitorPort: try freeTCPPort(),
                storeDirectory: store))
        }
        self.servers = servers
        self.directory = directory
        self.children = children
        self.jetStream = jetStream
        self.extraArguments = extraArguments
    }

    /// Every client URL, comma-separated, as `--nats-out` and `--nats-in` take them.
    public var urlList: String { servers.map(\.url).joined(separator: ",") }

    /// Starts every server and waits until each accepts clients and (with JetStream) reports JetStream healthy.
    public func start(deadline: Duration = .seconds(60)) async throws {
        for index in servers.indices { try launch(index) }
        for index in servers.indices { try await waitUntilReady(index, deadline: deadline) }
    }

    /// SIGKILLs server `index` and waits until it is gone.
    public func kill9(_ index: Int) async {
        let process = lock.withLock { running.removeValue(forKey: index) }
        guard let process else { return }
        process.signal(SIGKILL)
        _ = await process.wait(timeout: .seconds(10))
    }

    /// Starts server `index` again (same ports, same store) and waits until it accepts clients.
    public func restart(_ index: Int, deadline: Duration = .seconds(60)) async throws {
        try launch(index)
        try await waitUntilReady(index, deadline: deadline)
    }

    /// SIGTERMs every server still running and waits (SIGKILL after 10 s).
    public func stopAll() async {
        let all = lock.withLock { () -> [ToolProcess] in
            defer { running.removeAll() }
            return Array(running.values)
        }
        for process in all { process.signal(SIGTERM) }
        for process in all { _ = await process.wait(timeout: .seconds(10)) }
    }

    /// The server log of the current run of `index` (nats-server logs to standard error).
    public func log(_ index: Int) -> String {
        lock.withLock { running[index] }?.standardError ?? ""
    }

    private func launch(_ index: Int) throws {
        let server = servers[index]
        let routes = servers.filter { $0.name != server.name }.map { "nats://127.0.0.1:\($0.clusterPort)" }.joined(separator: ",")
        var arguments = [
            "--addr", "127.0.0.1", "--port", "\(server.port)", "--name", server.name,
            "--http_port", "\(server.monitorPort)",
        ]
        if jetStream {
            arguments += ["--jetstream", "--store_dir", server.storeDirectory]
        }
        if servers.count > 1 {
            arguments += [
                "--cluster_name", "logferry-test", "--cluster", "nats://127.0.0.1:\(server.clusterPort)", "--routes", routes,
            ]
        }
        arguments += extraArguments
        let run = lock.withLock { () -> Int in
            starts[index, default: 0] += 1
            return starts[index] ?? 1
        }
        let process = try ToolProcess(
            Self.serverPath, arguments, outputPrefix: directory + "/nats-\(server.name)-\(run)", children: children)
        lock.withLock { running[index] = process }
    }

    private func waitUntilReady(_ index: Int, deadline: Duration) async throws {
        let server = servers[index]
        try await waitUntil("nats-server \(server.name) on port \(server.port) to be ready", deadline: deadline) {
            // A blocking HTTP exchange on loopback: on a thread of its own, not on the cooperative pool.
            let body = await onThread { httpGet(port: server.monitorPort, path: "/healthz") }
            return body?.contains("ok") == true
        }
    }
}

/// Runs a blocking `body` on a new thread and returns its result, so a test's async code does not block a thread
/// of the cooperative pool.
public func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread { continuation.resume(returning: body()) }
    }
}
