import Foundation
import LogFerryTestSupport
import Testing

/// libnats (and the OpenSSL it links) is loaded when a NATS sink or source first connects, not at start: a node
/// without NATS neither maps it nor needs it installed (Sources/CNatsLoader).
@Suite("NATS library loaded on first use (real processes)")
struct NATSLibraryLoadingTests {
    /// The shared objects `pid` has mapped, by file name.
    static func mappedLibraries(_ pid: Int32) throws -> Set<String> {
        // Read to the end with read(2): /proc files report no size and hand out a page per read.
        let descriptor = open("/proc/\(pid)/maps", O_RDONLY)
        guard descriptor >= 0 else { throw HarnessError("cannot open /proc/\(pid)/maps: errno \(errno)") }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        while case let chunk = readRetryingInterrupts(descriptor), !chunk.isEmpty { bytes += chunk }
        let maps = String(decoding: bytes, as: UTF8.self)
        var names = Set<String>()
        for line in maps.split(separator: "\n") {
            guard let path = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst(5).first else { continue }
            if let name = path.split(separator: "/").last, name.contains(".so") { names.insert(String(name)) }
        }
        return names
    }

    /// Starts an agent that tails a one-line file into its spool and ships it with `sink` (its upstream flags).
    static func startAgent(in scene: FerryScene, host: String, sink: [String]) throws -> RestartableNode {
        let file = try scene.path("app.log")
        try Data("one line\n".utf8).write(to: URL(fileURLWithPath: file))
        let agent = RestartableNode(
            name: "agent", arguments: ["--file", file, "--spool", try scene.path("spool"), "--host-name", host] + sink,
            logDirectory: scene.directory.path, children: scene.children)
        try agent.start()
        return agent
    }

    @Test("an agent shipping to a ferry peer maps neither libnats nor OpenSSL")
    func agentWithoutNATS() async throws {
        try await FerryScene.run("nats-lazy") { scene in
            let children = scene.children
            defer { children.killAll() }
            // Nothing listens on the port: the agent spools and retries, which is all this test needs of it.
            let agent = try Self.startAgent(in: scene, host: "lazy", sink: ["--to", "127.0.0.1:\(try freeTCPPort())"])
            let tailing = await agent.waitForLog("resuming", deadline: .seconds(30))
            #expect(tailing, "the agent did not start tailing: \(agent.allStandardError(lastLines: 20))")
            let pid = try #require(agent.process?.pid)
            let libraries = try Self.mappedLibraries(pid)
            #expect(libraries.contains { $0.hasPrefix("libisal") }, "the listing of mapped libraries is not what this test thinks: \(libraries.sorted())")
            #expect(!libraries.contains { $0.hasPrefix("libnats") }, "libnats is mapped: \(libraries.sorted())")
            #expect(!libraries.contains { $0.hasPrefix("libcrypto") || $0.hasPrefix("libssl") }, "OpenSSL is mapped: \(libraries.sorted())")
            _ = await agent.terminate()
        }
    }

    @Test("an agent with --nats-out loads libnats when it connects", .enabled(if: NATSCluster.isAvailable, "nats-server is not installed"))
    func agentWithNATS() async throws {
        try await FerryScene.run("nats-loaded") { scene in
            let children = scene.children
            let nats = try NATSCluster(size: 1, directory: try scene.path("nats", create: true), children: children)
            defer { children.killAll() }
            try await nats.start()
            let agent = try Self.startAgent(in: scene, host: "loaded", sink: ["--nats-out", nats.urlList])
            let connected = await agent.waitForLog("connected to NATS", deadline: .seconds(30))
            #expect(connected, "the agent did not connect: \(agent.allStandardError(lastLines: 20))")
            let pid = try #require(agent.process?.pid)
            let libraries = try Self.mappedLibraries(pid)
            #expect(libraries.contains { $0.hasPrefix("libnats") }, "libnats is not mapped after connecting: \(libraries.sorted())")
            _ = await agent.terminate()
            await nats.stopAll()
        }
    }

    @Test("a NATS node whose libnats cannot be loaded says which package to install and keeps running")
    func missingLibrary() async throws {
        try await FerryScene.run("nats-missing") { scene in
            let children = scene.children
            defer { children.killAll() }
            let file = try scene.path("app.log")
            try Data("one line\n".utf8).write(to: URL(fileURLWithPath: file))
            let stderrPath = try scene.path("agent.stderr")
            let agent = children.track(try LogFerryProcess(
                ["agent", "--file", file, "--spool", try scene.path("spool"), "--host-name", "missing",
                 "--nats-out", "nats://127.0.0.1:\(try freeTCPPort())"],
                environment: ["LOGFERRY_NATS_LIBRARY": "/nonexistent/libnats.so.3.4"], stderrPath: stderrPath))
            func log() -> String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
            let said = await waitUntil(timeout: .seconds(30)) { log().contains("cannot be loaded") }
            #expect(said, "no error about the library: \(log())")
            #expect(log().contains("apt install libnats"), "the error does not name the package: \(log())")
            #expect(log().contains("/nonexistent/libnats.so.3.4"), "the error does not name the file: \(log())")
            // An operator error, not a crash: the agent is still up, retrying with backoff.
            try await Task.sleep(for: .milliseconds(500))
            #expect(kill(agent.pid, 0) == 0, "the agent is gone: \(log())")
            let libraries = try Self.mappedLibraries(agent.pid)
            #expect(!libraries.contains { $0.hasPrefix("libnats") }, "libnats is mapped: \(libraries.sorted())")
            agent.signal(SIGTERM)
            let exit = await agent.wait()
            #expect(exit == .exited(0), "the agent did not stop cleanly on SIGTERM: \(exit)")
        }
    }
}
