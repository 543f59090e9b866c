import Foundation
import LogFerryTestSupport
import Testing

/// An agent publishing straight to JetStream, with no relay between (a site that already runs NATS):
///
/// ```
/// file → agent --nats-out → n1 (one server) → receive --nats-in --out DIR
/// ```
/// The agent is killed with SIGKILL while it publishes and restarted on its spool; the NATS server is killed and
/// restarted on its store. Every line must arrive exactly once: the agent's message ids (origin and sequence) make
/// JetStream drop what it publishes again after the restart, and the receiver deduplicates by origin.
@Suite("NATS JetStream: agent --nats-out → nats-server → receive --nats-in", .serialized,
       .enabled(if: NATSCluster.isAvailable, "nats-server is not installed"))
struct NATSAgentTests {
    static let totalLines = 40_000
    static let host = "edge-nats-agent"

    @Test("40,000 lines; SIGKILL of the agent and of the NATS server; every line exactly once")
    func agentPublishesDirectly() async throws {
        try await FerryScene.run("nats-agent") { scene in
            let children = scene.children
            let nats = try NATSCluster(size: 1, directory: try scene.path("nats", create: true), children: children)
            defer { children.killAll() }
            try await nats.start()

            let out = try scene.path("out", create: true)
            let receiver = RestartableNode(
                name: "receiver", subcommand: nil,
                arguments: [
                    "receive", "--spool", try scene.path("spool-receiver"), "--out", out,
                    "--nats-in", nats.urlList, "--nats-consumer", "files",
                ],
                logDirectory: scene.directory.path, children: children)
            try receiver.start()

            let file = try scene.path("app.log")
            guard FileManager.default.createFile(atPath: file, contents: nil) else { throw HarnessError("cannot create \(file)") }
            let agent = RestartableNode(name: "agent", arguments: [
                "--file", file, "--spool", try scene.path("spool-agent"), "--nats-out", nats.urlList,
                "--host-name", Self.host, "--batch-events", "500",
            ], logDirectory: scene.directory.path, children: children)
            try agent.start()

            try await TestOrigin.writePaced(total: Self.totalLines, host: Self.host, to: file, ticks: 80) { tick, _ in
                switch tick {
                case 20:
                    await agent.kill9()
                case 25:
                    try agent.start()
                case 40:
                    await nats.kill9(0)
                case 50:
                    try await nats.restart(0)
                case 60:
                    await agent.kill9()
                    try agent.start()
                default:
                    break
                }
            }

            func outputFiles() -> [String] { OriginOutput.files(in: out, host: Self.host) }
            func receivedLines() -> Int { OriginOutput.lineCount(in: out, host: Self.host) }
            let arrived = await waitUntil(timeout: .seconds(90), interval: .milliseconds(250)) { receivedLines() >= Self.totalLines }
            // Anything published or delivered twice would land by now.
            try await Task.sleep(for: .seconds(2))
            let report = OriginOutput.check(paths: outputFiles(), host: Self.host, expected: Self.totalLines)
            if !arrived || !report.isExact {
                print(agent.allStandardError(lastLines: 40))
                print(receiver.allStandardError(lastLines: 40))
                print(String(nats.log(0).suffix(3000)))
            }
            #expect(report.missing == 0, "lines missing: \(report)")
            #expect(report.duplicates == 0, "lines doubled: \(report)")
            #expect(report.garbled == 0, "lines garbled: \(report)")
            #expect(report.lines == Self.totalLines)
            // The agent published in all three of its runs, and lost its server once.
            #expect(agent.occurrencesInAllRuns(of: "NATS connection lost") >= 1, "the agent never lost its NATS server")
            let agentExit = await agent.terminate()
            #expect(agentExit == .exited(0), "the agent did not stop cleanly on SIGTERM: \(String(describing: agentExit))")
            _ = await receiver.terminate()
            await nats.stopAll()
        }
    }
}
