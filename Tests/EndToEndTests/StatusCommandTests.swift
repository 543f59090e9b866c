import Foundation
import LogFerryTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `logferry status --once` against a live agent and receiver (both with `--metrics-listen`): the numbers it shows
/// are the nodes' real ones, and a node that is down is shown as unreachable.
@Suite("logferry status (real processes)", .serialized)
struct StatusCommandTests {
    /// One snapshot of `urls` (`--sample 0`: no rates, no wait).
    static func status(_ urls: [String], sample: String = "0") async throws -> String {
        let result = try await LogFerryProcess.run(["status", "--once", "--sample", sample] + urls, timeout: .seconds(60))
        #expect(result.exit == .exited(0), "status exit \(result.exit): \(result.output)")
        return result.output
    }

    /// Polls `status` until `predicate` holds on its output (the nodes' metrics settle a moment after the data).
    static func status(_ urls: [String], until predicate: (String) -> Bool) async throws -> String {
        var last = ""
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            last = try await status(urls)
            if predicate(last) { return last }
            try await Task.sleep(for: .milliseconds(300))
        }
        return last
    }

    /// The integer after `prefix` on the output line that starts with it (after the indent).
    static func number(in output: String, after prefix: String) -> Int? {
        for line in output.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix(prefix) else { continue }
            return Int(trimmed.dropFirst(prefix.count).prefix { $0.isNumber })
        }
        return nil
    }

    @Test("--once shows lines read, backlog, upstream state, rates; a dead node is unreachable, not a crash")
    func onceAgainstLiveNodes() async throws {
        try await FerryScene.run("status") { scene in
            let (directory, children) = (scene.directory, scene.children)
            let logs = try scene.path("logs", create: true)
            let receiverMetrics = try freeTCPPort()
            let agentMetrics = try freeTCPPort()
            let receiver = try await scene.node("receiver", [
                "receive", "--spool", try scene.path("receiver-spool"), "--out", try scene.path("out"),
                "--metrics-listen", "127.0.0.1:\(receiverMetrics)",
            ])
            let agent = try startAgent(
                ["--file", logs + "/*.log", "--metrics-listen", "127.0.0.1:\(agentMetrics)"],
                spool: directory.file("agent-spool"), port: receiver.port, host: "status-host",
                stderrPath: directory.file("agent.stderr"), children: children
            )
            let agentURL = "http://127.0.0.1:\(agentMetrics)/metrics"
            let receiverURL = "127.0.0.1:\(receiverMetrics)"
            let deadURL = "http://127.0.0.1:\(try freeTCPPort())/metrics"
            try appendToFile(logs + "/app.log", (0..<1_000).map { "line \($0)\n" }.joined())

            // Everything delivered: 1000 lines read, nothing waiting, the upstream connected.
            let upstream = "upstream 127.0.0.1:\(receiver.port)"
            let delivered = try await Self.status([agentURL, receiverURL, deadURL]) { output in
                Self.number(in: output, after: "input file: ") == 1_000 && Self.number(in: output, after: "backlog ferry: ") == 0
                    && output.contains("\(upstream): connected") && Self.number(in: output, after: "input ferry listener: ") == 1_000
                    && output.contains("oldest unacked: 0.0 s")
            }
            #expect(Self.number(in: delivered, after: "input file: ") == 1_000, "\(delivered)\n\(agent.standardError.suffix(2000))")
            #expect(Self.number(in: delivered, after: "backlog ferry: ") == 0, "\(delivered)")
            #expect(delivered.contains("\(upstream): connected"), "\(delivered)")
            #expect(Self.number(in: delivered, after: "input ferry listener: ") == 1_000, "receiver's events in: \(delivered)")
            #expect(delivered.contains("node \(deadURL): unreachable"), "\(delivered)")
            #expect(delivered.contains("oldest unacked: 0.0 s"), "\(delivered)")
            #expect(delivered.contains("last ack: ") && !delivered.contains("last ack: never"), "\(delivered)")

            // The receiver dies: new lines wait in the agent's spool, the upstream is down, the receiver unreachable.
            await receiver.kill9()
            try appendToFile(logs + "/app.log", (1_000..<1_500).map { "line \($0)\n" }.joined())
            let waiting = try await Self.status([agentURL, receiverURL]) { output in
                Self.number(in: output, after: "input file: ") == 1_500 && (Self.number(in: output, after: "backlog ferry: ") ?? 0) >= 1
                    && output.contains("\(upstream): disconnected")
            }
            #expect(Self.number(in: waiting, after: "input file: ") == 1_500, "\(waiting)")
            #expect((Self.number(in: waiting, after: "backlog ferry: ") ?? 0) >= 1, "\(waiting)")
            #expect(waiting.contains("\(upstream): disconnected"), "\(waiting)")
            #expect(waiting.contains("upstream: none connected"), "\(waiting)")
            #expect(waiting.contains("node http://\(receiverURL)/metrics: unreachable"), "\(waiting)")
            // The oldest waiting batch ages while nobody acks it (the gauge is refreshed every second).
            func age(_ output: String) -> Double? {
                output.split(separator: "\n").first { $0.contains("oldest unacked: ") }
                    .flatMap { Double($0.split(separator: " ").dropLast().last ?? "") }
            }
            let aged = try await Self.status([agentURL]) { (age($0) ?? 0) >= 2 }
            #expect((age(aged) ?? 0) >= 2, "\(aged)")

            // Rates come from two scrapes; a rate line is there for each input.
            let withRates = try await Self.status([agentURL], sample: "1")
            #expect(withRates.contains("input file: 1500 lines (0.0/s)"), "\(withRates)")
        }
    }
}
