import Foundation
import LogFerryTestSupport
import LogFerryWire
import Testing

/// Per-host keys (`--key-dir`): a key proves a host name, a spool id stays with the host that first used it,
/// and only the relays named in `--trusted-relays` may forward other origins' batches. With a shared key any
/// holder can write as any host (Docs/SECURITY.md); these are the tests of what per-host keys close.
@Suite("Security: per-host keys, spool ids bound to hosts, trusted relays (real processes)", .serialized)
struct FerrySecurityTests {
    static let hosts = ["web-1", "web-2", "relay-1", "relay-2"]

    /// Writes `DIR/HOST.key` for every host; returns the directory.
    static func keyDirectory(in scene: FerryScene) throws -> String {
        let directory = try scene.path("keys", create: true)
        for host in hosts {
            try Data("secret of \(host)\n".utf8).write(to: URL(fileURLWithPath: directory + "/\(host).key"))
        }
        return directory
    }

    static func key(_ host: String) -> [UInt8] { Array("secret of \(host)".utf8) }

    static func batch(host: String, origin: [UInt8], sequence: UInt64) throws -> Frame {
        var encoder = BatchEncoder()
        let sealed = try encoder.encode(Batch(host: host, events: [Event(timestamp: 1, source: "app", line: Array("from \(host)".utf8))]))
        return .batch(BatchFrame(sequence: sequence, origin: BatchOrigin(spoolID: origin, sequence: sequence, events: 1), batch: sealed))
    }

    static func refusal(_ frames: [Frame]) -> Refusal? {
        frames.compactMap { frame -> Refusal? in
            if case .refuse(let refusal) = frame { return refusal }
            return nil
        }.first
    }

    @Test("a key proves its host: the wrong host's key is refused; a stolen spool id is refused; another host's batches are refused")
    func perHostKeys() async throws {
        try await FerryScene.run("security-keys") { scene in
            let keys = try Self.keyDirectory(in: scene)
            let out = try scene.path("out", create: true)
            let receiver = try await scene.node("receiver", [
                "receive", "--spool", try scene.path("spool-receiver"), "--out", out, "--key-dir", keys,
                "--trusted-relays", "relay-1",
            ])
            let web1 = (0..<16).map { _ in UInt8.random(in: 0...255) }
            // web-1 with its own key: welcomed, its batch stored.
            try await RawFerryConnection.with(port: receiver.port) { connection in
                let answer = try await connection.handshake(spoolID: web1, hostName: "web-1", key: Self.key("web-1"))
                guard case .welcome = answer else { Issue.record("web-1 not welcomed: \(String(describing: answer))"); return }
                try await connection.send(try Self.batch(host: "web-1", origin: web1, sequence: 1))
                #expect(try await connection.nextAnswer() == .ack(1))
            }
            // web-2 presenting web-1's key: refused.
            try await RawFerryConnection.with(port: receiver.port) { connection in
                let answer = try await connection.handshake(
                    spoolID: (0..<16).map { _ in 7 }, hostName: "web-2", key: Self.key("web-1"))
                guard case .refuse(let refusal) = answer else { Issue.record("expected a refusal, got \(String(describing: answer))"); return }
                #expect(refusal.code == .unauthorized && refusal.reason.contains("web-2"), "\(refusal)")
            }
            // web-2 with its own key but web-1's spool id: the id belongs to web-1.
            try await RawFerryConnection.with(port: receiver.port) { connection in
                let answer = try await connection.handshake(spoolID: web1, hostName: "web-2", key: Self.key("web-2"))
                guard case .refuse(let refusal) = answer else { Issue.record("expected a refusal, got \(String(describing: answer))"); return }
                #expect(refusal.code == .unauthorized && refusal.reason.contains("web-1"), "\(refusal)")
            }
            // web-2 sending a batch of web-1's origin, then one naming host web-1: refused, connection closed.
            for (origin, host) in [(web1, "web-2"), ((0..<16).map { _ in UInt8(9) }, "web-1")] {
                try await RawFerryConnection.with(port: receiver.port) { connection in
                    let own = origin == web1 ? (0..<16).map { _ in UInt8(8) } : origin
                    guard case .welcome = try await connection.handshake(spoolID: own, hostName: "web-2", key: Self.key("web-2")) else {
                        Issue.record("web-2 not welcomed"); return
                    }
                    try await connection.send(try Self.batch(host: host, origin: origin, sequence: 1))
                    let refusal = Self.refusal(try await connection.framesUntilClosed())
                    #expect(refusal?.code == .unauthorized, "web-2 sending origin \(origin == web1 ? "web-1" : "own") as host \(host): \(String(describing: refusal))")
                }
            }
            #expect(await receiver.terminate() == .exited(0))
            let hostsWritten = ((try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []).filter { !$0.hasPrefix(".") }
            #expect(hostsWritten == ["web-1"], "only web-1's own batch may be written: \(hostsWritten)")
        }
    }

    @Test("a trusted relay forwards an agent's batches; an untrusted one with a valid key is refused")
    func trustedRelays() async throws {
        try await FerryScene.run("security-relays") { scene in
            let keys = try Self.keyDirectory(in: scene)
            let out = try scene.path("out", create: true)
            let receiver = try await scene.node("receiver", [
                "receive", "--spool", try scene.path("spool-receiver"), "--out", out, "--key-dir", keys,
                "--trusted-relays", "relay-1",
            ])
            let trusted = try await scene.node("relay-1", [
                "relay", "--spool", try scene.path("spool-relay-1"), "--to", "127.0.0.1:\(receiver.port)",
                "--key-file", keys + "/relay-1.key", "--host-name", "relay-1",
            ])
            let untrusted = try await scene.node("relay-2", [
                "relay", "--spool", try scene.path("spool-relay-2"), "--to", "127.0.0.1:\(receiver.port)",
                "--key-file", keys + "/relay-2.key", "--host-name", "relay-2",
            ])
            let file = try scene.path("app.log")
            try appendToFile(file, (0..<500).map { "line \($0)\n" }.joined())
            // A relay's --key-file is also what its own listener checks, so each agent holds its relay's key.
            _ = try startAgent(["--file", file, "--key-file", keys + "/relay-1.key"], spool: try scene.path("spool-agent-1"), port: trusted.port, host: "web-1",
                               stderrPath: try scene.path("agent-1.log"), children: scene.children)
            _ = try startAgent(["--file", file, "--key-file", keys + "/relay-2.key"], spool: try scene.path("spool-agent-2"), port: untrusted.port, host: "web-2",
                               stderrPath: try scene.path("agent-2.log"), children: scene.children)
            try await waitUntil("web-1's lines through the trusted relay", deadline: .seconds(30)) {
                ReceivedOutput.rawLines(in: out).first { $0.key.hasPrefix("web-1/") }?.value.count ?? 0 >= 500
            }
            try await Task.sleep(for: .seconds(2))
            let written = ReceivedOutput.rawLines(in: out)
            #expect(written.keys.allSatisfy { $0.hasPrefix("web-1/") }, "the untrusted relay's batches were written: \(written.keys.sorted())")
            #expect(untrusted.standardError.contains("--trusted-relays"), "the untrusted relay was not told why:\n\(untrusted.standardError.suffix(1500))")
            #expect(await receiver.terminate() == .exited(0))
        }
    }
}
