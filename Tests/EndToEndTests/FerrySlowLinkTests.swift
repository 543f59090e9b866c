import Foundation
import LogFerryTestSupport
import Testing

/// A satellite or 2G edge site: the link moves 20 KB/s, and one batch of random hex lines is about 500 KB
/// compressed, so a single frame takes about 25 s to cross — longer than the receiver's 5 s liveness
/// timeout and the sender's 15 s progress timeout. Before idleness was counted in bytes (on both sides) and
/// bytes taken by the peer's TCP counted as progress, not one line arrived: the frame was cut off after 5 s
/// and resent forever.
@Suite("Slow links (real processes, a throttling proxy)", .serialized)
struct FerrySlowLinkTests {
    @Test("20 KB/s link, receiver --idle-timeout 5, ~500 KB frames: every line arrives exactly once")
    func slowLinkDelivers() async throws {
        let lines = 3_000
        try await FerryScene.run("slow-link") { scene in
            let out = try scene.path("out", create: true)
            let receiver = try await scene.node("receiver", [
                "receive", "--spool", try scene.path("spool-receiver"), "--out", out, "--idle-timeout", "5",
            ])
            let link = try scene.proxy(to: receiver.port)
            link.setRate(bytesPerSecond: 20_000)

            // Random hex compresses about 2:1, so a 1 MiB batch is a frame of about 500 KB.
            var rng = SeededGenerator.fromEnvironment(test: "slow-link")
            var text = ""
            for index in 0..<lines {
                let hex = (0..<50).map { _ in String(format: "%08x", UInt32.random(in: .min ... .max, using: &rng)) }.joined()
                text += String(format: "n=%06d ", index) + hex + "\n"
            }
            let input = try scene.path("app.log")
            try Data(text.utf8).write(to: URL(fileURLWithPath: input))
            let children = scene.children
            let agentLog = try scene.path("agent.stderr.log")
            let metricsPort = try freeTCPPort()
            let agent = try startAgent(
                ["--file", input, "--metrics-listen", "127.0.0.1:\(metricsPort)"],
                spool: try scene.path("spool-agent"), port: link.port, host: "satellite",
                stderrPath: agentLog, children: children)

            let started = ContinuousClock.now
            do {
                try await waitUntil("all \(lines) lines through the 20 KB/s link", deadline: .seconds(150)) {
                    ReceivedOutput.lineCount(in: out) >= lines
                }
            } catch {
                let log = (try? String(contentsOfFile: agentLog, encoding: .utf8)) ?? ""
                Issue.record("only \(ReceivedOutput.lineCount(in: out)) of \(lines) lines arrived: \(error)\nagent:\n\(log.suffix(3000))")
                throw error
            }
            print("slow link: \(lines) lines (\(text.utf8.count) bytes) in \(ContinuousClock.now - started)")
            // The sender measured the link and cut its frames to it (the first batch went whole, unmeasured).
            let measured = scrapeMetric(port: metricsPort, "logferry_ferry_sink_link_bytes_per_second") ?? 0
            let cut = scrapeMetric(port: metricsPort, "logferry_ferry_sink_cut_for_link_total") ?? 0
            print("slow link: measured \(Int(measured)) B/s, \(Int(cut)) batches cut for the link")
            #expect(measured > 5_000 && measured < 100_000, "the 20 KB/s link was measured at \(measured) B/s")
            #expect(cut > 0, "no batch was cut to the slow link's rate")
            _ = await stopGracefully(agent)
            #expect(await receiver.terminate() == .exited(0))

            let output = ReceivedOutput.rawLines(in: out)
            let received = output.values.flatMap { $0 }.map { String(decoding: $0, as: UTF8.self) }
            var seen = [Int: Int]()
            for line in received {
                guard line.hasPrefix("n="), let number = Int(line.dropFirst(2).prefix(6)) else { continue }
                seen[number, default: 0] += 1
            }
            let missing = (0..<lines).filter { seen[$0] == nil }
            let doubled = seen.filter { $0.value > 1 }.map(\.key).sorted()
            #expect(missing.isEmpty, "missing: \(missing.prefix(20))")
            #expect(doubled.isEmpty, "doubled: \(doubled.prefix(20))")
            #expect(received.count == lines)
            let log = (try? String(contentsOfFile: agentLog, encoding: .utf8)) ?? ""
            #expect(!log.contains("abandoning it"), "the sender abandoned a slow but working upstream:\n\(log.suffix(2000))")
        }
    }
}
