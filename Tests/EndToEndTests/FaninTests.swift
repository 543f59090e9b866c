import Foundation
import LogFerryNode
import LogFerryTestSupport
import LogFerryWire
import Testing

/// One relay tier for many agents: 1,000 concurrent sessions into one real `logferry receive`, and the
/// session cap (`--max-sessions`) refusing the surplus clearly.
@Suite("Fan-in: 1,000 agents into one receiver, and the session cap (real processes)", .serialized)
struct FaninTests {
    @Test("1,000 concurrent agents (real ferry sinks, each its own origin) into one receiver: every line exactly once")
    func thousandAgents() async throws {
        let agents = 1_000
        let linesEach = 60
        // 1,000 spools and 1,000 sockets in this process, and as many sockets in the receiver.
        FileDescriptorLimit.raiseToHard()
        try await FerryScene.run("fanin-1000") { scene in
            let out = try scene.path("out", create: true)
            let receiver = try await scene.node("receiver", ["receive", "--spool", try scene.path("spool-receiver"), "--out", out])
            let upstream = Upstream(host: "127.0.0.1", port: receiver.port)
            // Each agent's spool holds three batches of 20 numbered lines before any of them connects.
            let origins = try await withThrowingTaskGroup(of: (TestOrigin, UInt64).self) { group in
                for index in 0..<agents {
                    let directory = try scene.path("spool-agent-\(index)")
                    group.addTask {
                        let origin = try await TestOrigin(host: "agent-\(index)", source: "fanin", directory: directory, upstreams: [upstream])
                        return (origin, try await origin.append(lines: 0..<linesEach, batchSize: 20))
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            // All of them ship at once, each until the receiver has acknowledged all of its batches.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (origin, last) in origins {
                    group.addTask {
                        try await origin.shipping {
                            try await origin.waitUntilAcknowledged(through: last, deadline: .seconds(180), "\(origin.host) acknowledged")
                        }
                    }
                }
                try await group.waitForAll()
            }
            let expected = origins.map { origin, _ in
                (0..<linesEach).reduce(0) { $0 + TestOrigin.line($1, host: origin.host).utf8.count + 1 }
            }
            try await waitUntil("every agent's lines in the receiver's files", deadline: .seconds(120)) {
                zip(origins, expected).allSatisfy { origin, bytes in
                    let file = out + "/\(origin.0.host)/fanin.log"
                    return ((try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0) >= bytes
                }
            }
            var inexact: [String] = []
            for (origin, _) in origins {
                let report = OriginOutput.check(paths: [out + "/\(origin.host)/fanin.log"], host: origin.host, expected: linesEach)
                if !report.isExact { inexact.append("\(origin.host): \(report)") }
            }
            #expect(inexact.isEmpty, "\(inexact.count) of \(agents) agents' output is not exact: \(inexact.prefix(5))")
            #expect(await receiver.terminate() == .exited(0))
        }
    }

    @Test("--max-sessions 5 with 8 clients: 3 refused with retry-later, counted, and logged once for the burst")
    func sessionCapBurst() async throws {
        try await FerryScene.run("fanin-session-cap") { scene in
            let metricsPort = try freeTCPPort()
            let receiver = try await scene.node("receiver", [
                "receive", "--spool", try scene.path("spool-receiver"), "--out", try scene.path("out", create: true),
                "--max-sessions", "5", "--metrics-listen", "127.0.0.1:\(metricsPort)",
            ])
            let held = Flag()
            let welcomed = TallyCounter()
            let holders = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<5 {
                        group.addTask {
                            try await RawFerryConnection.with(port: receiver.port) { connection in
                                let id = (0..<16).map { _ in UInt8.random(in: 0...255) }
                                if case .welcome = try await connection.handshake(spoolID: id, hostName: "held-\(index)", key: nil) {
                                    welcomed.increment()
                                }
                                while !held.isSet {
                                    try await Task.sleep(for: .milliseconds(500))
                                    try await connection.send(.heartbeat)
                                }
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            try await waitUntil("five sessions welcomed", deadline: .seconds(30)) { welcomed.value == 5 }
            // Three more at once: each is refused at once, before any handshake.
            let refusals = try await withThrowingTaskGroup(of: Refusal?.self) { group in
                for _ in 0..<3 {
                    group.addTask {
                        try await RawFerryConnection.with(port: receiver.port) { connection in
                            let frames = try await withDeadline(.seconds(20), "an extra session to be refused") {
                                try await connection.framesUntilClosed()
                            }
                            return frames.compactMap { frame -> Refusal? in
                                if case .refuse(let refusal) = frame { return refusal }
                                return nil
                            }.first
                        }
                    }
                }
                return try await group.reduce(into: [Refusal?]()) { $0.append($1) }
            }
            #expect(refusals.count == 3)
            for refusal in refusals {
                #expect(refusal?.code == .retryLater && refusal?.reason.contains("5 sessions") == true, "got \(String(describing: refusal))")
            }
            let counted = try await Self.metric("logferry_ferry_listener_sessions_refused_total", port: metricsPort)
            #expect(counted == 3, "sessions_refused_total is \(String(describing: counted))")
            let log = receiver.standardError
            held.set()
            try await holders.value
            #expect(await receiver.terminate() == .exited(0))
            let lines = log.split(separator: "\n").filter { $0.contains("refusing new connections") }
            #expect(lines.count == 1, "one log line for the burst, got \(lines.count): \(lines)")
            #expect(lines.first?.contains("the maximum (--max-sessions) is 5") == true, "\(lines)")
        }
    }

    /// The value of metric `name` on the node's /metrics, fetched on a thread of its own (the HTTP helper blocks).
    private static func metric(_ name: String, port: Int) async throws -> Double? {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(returning: httpGet(port: port, path: "/metrics").flatMap { metricValue($0, name) })
            }
        }
    }
}
