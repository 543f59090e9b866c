import Foundation
import LogFerryTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Scale-out through NATS JetStream on a real three-node cluster (Debian's `nats-server`, started by the test on
/// loopback ports with JetStream and clustering):
///
/// ```
/// file → agent → proxy → relay --nats-out (replicas 3) → n1, n2, n3 → receive --nats-in --out DIR
/// ```
/// The agent tails a file the test appends 300,000 numbered lines to over about 20 s. Meanwhile the NATS server
/// both clients are connected to is killed with SIGKILL, then a second one (the stream loses its quorum: publishes
/// are not acknowledged and the relay's spool absorbs the flow); the relay is killed while its publishes wait for
/// acks, and restarted on its spool (behind a proxy, so the agent keeps its address); the servers come back on
/// their stores; then the receiver is killed and restarted. Every line must be in the receiver's files exactly once: the relay's
/// message ids make JetStream drop what it publishes again, the receiver acknowledges a message only once its
/// batch is durable, and what JetStream delivers again is recognised by origin. Order is not checked: a message
/// delivered to the killed receiver and not acknowledged comes again after the ack wait, behind newer ones.
@Suite("NATS JetStream: relay --nats-out → 3-node cluster → receive --nats-in", .serialized,
       .enabled(if: NATSCluster.isAvailable, "nats-server is not installed"))
struct NATSClusterTests {
    static let totalLines = ProcessInfo.processInfo.environment["LOGFERRY_NATS_LINES"].flatMap { Int($0) } ?? 300_000
    static let host = "edge-nats"

    @Test("300,000 lines; SIGKILL of a NATS server, of the relay and of the receiver; every line exactly once")
    func clusterSurvivesKills() async throws {
        let started = ContinuousClock.now
        func log(_ message: String) {
            let elapsed = ContinuousClock.now - started
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            print(String(format: "%6.1fs nats: ", seconds) + message)
        }
        try await FerryScene.run("nats-cluster") { scene in
            let children = scene.children
            let cluster = try NATSCluster(size: 3, directory: try scene.path("nats", create: true), children: children)
            defer { children.killAll() }
            try await cluster.start()
            log("cluster up on \(cluster.urlList)")

            let out = try scene.path("out", create: true)
            let receiver = RestartableNode(
                name: "receiver", subcommand: nil,
                arguments: [
                    "receive", "--spool", try scene.path("spool-receiver"), "--out", out,
                    "--nats-in", cluster.urlList, "--nats-replicas", "3", "--nats-consumer", "files",
                ],
                logDirectory: scene.directory.path, children: children)
            try receiver.start()

            let relay = try await scene.node("relay", [
                "relay", "--spool", try scene.path("spool-relay"), "--nats-out", cluster.urlList, "--nats-replicas", "3",
            ])
            let proxy = try scene.proxy(to: relay.port)

            let file = try scene.path("app.log")
            guard FileManager.default.createFile(atPath: file, contents: nil) else { throw HarnessError("cannot create \(file)") }
            let agent = RestartableNode(name: "agent", arguments: [
                "--file", file, "--spool", try scene.path("spool-agent"), "--to", "127.0.0.1:\(proxy.port)",
                "--host-name", Self.host, "--backoff-cap-ms", "500",
            ], logDirectory: scene.directory.path, children: children)
            try agent.start()

            // Writing: 300,000 lines over 20 s in 100 ms ticks, with the kills on the way.
            try await TestOrigin.writePaced(total: Self.totalLines, host: Self.host, to: file, ticks: 200) { tick, written in
                switch tick {
                case 30:
                    // The first server of the list: the one both clients are connected to.
                    await cluster.kill9(0)
                    log("kill -9 nats-server \(cluster.servers[0].name); \(written) lines written")
                case 50:
                    // Two of three down: the stream has no quorum, publishes are not acknowledged, the relay's
                    // spool absorbs what the agent sends.
                    await cluster.kill9(1)
                    log("kill -9 nats-server \(cluster.servers[1].name): no quorum")
                case 65:
                    // Killed while its publishes wait for acks that cannot come.
                    proxy.setBackendPort(nil)
                    await relay.kill9()
                    log("kill -9 relay")
                case 75:
                    try await relay.start()
                    proxy.setBackendPort(relay.port)
                    log("relay restarted on its spool")
                case 95:
                    try await cluster.restart(0)
                    log("nats-server \(cluster.servers[0].name) restarted on its store: quorum again")
                case 105:
                    try await cluster.restart(1)
                    log("nats-server \(cluster.servers[1].name) restarted on its store")
                case 130:
                    await receiver.kill9()
                    log("kill -9 receiver")
                case 140:
                    try receiver.start()
                    log("receiver restarted on its spool")
                default:
                    break
                }
            }
            log("all \(Self.totalLines) lines written")

            func outputFiles() -> [String] { OriginOutput.files(in: out, host: Self.host) }
            func receivedLines() -> Int { OriginOutput.lineCount(in: out, host: Self.host) }
            let arrived = await waitUntil(timeout: .seconds(90), interval: .milliseconds(250)) { receivedLines() >= Self.totalLines }
            log("receiver has \(receivedLines()) lines (arrived: \(arrived))")
            // Anything published or delivered twice would land by now: the ack wait is 10 s, the check is below.
            try await Task.sleep(for: .seconds(2))
            let receiverExit = await receiver.terminate()
            #expect(receiverExit == .exited(0), "the receiver did not stop cleanly on SIGTERM: \(String(describing: receiverExit))")
            let report = OriginOutput.check(paths: outputFiles(), host: Self.host, expected: Self.totalLines)
            log("output: \(report)")
            if report.missing > 0 || report.duplicates > 0 || report.garbled > 0 {
                print(relay.allStandardError(lastLines: 60))
                print(receiver.allStandardError(lastLines: 60))
                print(agent.allStandardError(lastLines: 30))
                for index in cluster.servers.indices { print(String(cluster.log(index).suffix(3000))) }
            }
            #expect(report.missing == 0, "lines missing: \(report)")
            #expect(report.duplicates == 0, "lines doubled: \(report)")
            #expect(report.garbled == 0, "lines garbled: \(report)")
            #expect(report.lines == Self.totalLines)
            // Both clients lost the server they were on and went on through another one of the cluster.
            let relayLog = relay.allStandardError(lastLines: 10_000)
            #expect(relayLog.contains("NATS connection lost"), "the relay never lost its NATS server")
            #expect(receiver.occurrencesInAllRuns(of: "NATS connection lost") >= 1, "the receiver never lost its NATS server")
            // The receiver read the stream in both of its runs.
            #expect(receiver.occurrencesInAllRuns(of: "reading JetStream stream LOGFERRY") >= 2)
            await cluster.stopAll()
        }
    }
}
