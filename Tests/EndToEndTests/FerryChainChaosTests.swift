import Foundation
import LogFerryNode
import LogFerryTestSupport
import Testing

/// The promise of the ferry, end to end: every line arrives exactly once, in order, through two relays,
/// while the middle relay is killed with SIGKILL again and again and connections are cut mid-frame.
///
/// ```
/// origin (FerrySink in the test) → proxy 1 → relay A → proxy 2 → relay B → proxy 3 → receive
/// ```
/// The random moments come from a seeded generator whose seed is printed, so a failing run can be replayed
/// with `LOGFERRY_CHAOS_SEED`. `LOGFERRY_CHAIN_EVENTS` changes the number of events of the first test
/// (default 1,000,000).
@Suite("Ferry chain under chaos (real processes)", .serialized)
struct FerryChainChaosTests {
    @Test("origin → relay A → relay B → receive: kill -9 of B ≥10 times and mid-frame cuts; every event exactly once, in order")
    func chainSurvivesKillsOfTheMiddleRelay() async throws {
        let total = ProcessInfo.processInfo.environment["LOGFERRY_CHAIN_EVENTS"].flatMap { Int($0) } ?? 1_000_000
        var rng = SeededGenerator.fromEnvironment(test: "chain")
        try await Self.runChain("ferry-chain", total: total, victims: ["relay-b"], killsEach: 10, rng: &rng)
    }

    @Test("the same chain with kill -9 of every node (relay A, relay B, receiver) ≥4 times each; every event exactly once, in order")
    func chainSurvivesKillsOfEveryNode() async throws {
        var rng = SeededGenerator.fromEnvironment(test: "chain-every-node")
        try await Self.runChain("ferry-chain-all", total: 300_000, victims: ["relay-a", "relay-b", "receiver"], killsEach: 4, rng: &rng)
    }

    /// Builds origin → proxy 1 → relay A → proxy 2 → relay B → proxy 3 → receive, ships `total` lines in
    /// batches of 4096 spread over the chaos phase, and meanwhile, at random moments, either kills one of
    /// `victims` with SIGKILL and restarts it on its spool, or cuts the live connections of one proxy mid-frame;
    /// until every victim was killed `killsEach` times and every line was appended. Then checks that the
    /// receiver holds every line exactly once, in order, and that every node exits 0 on SIGTERM.
    static func runChain(_ label: String, total: Int, victims: [String], killsEach: Int, rng: inout SeededGenerator) async throws {
        let batchSize = 4096
        let started = ContinuousClock.now
        func stamp() -> String {
            let elapsed = ContinuousClock.now - started
            return String(format: "%7.2fs", Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        }

        try await FerryScene.run(label) { scene in
            let out = try scene.path("out", create: true)
            let shipFlags = ["--backoff-base-ms", "20", "--backoff-cap-ms", "500"]
            let receiver = try await scene.node("receiver", ["receive", "--spool", try scene.path("spool-receiver"), "--out", out])
            let proxy3 = try scene.proxy(to: receiver.port)
            let relayB = try await scene.node("relay-b", [
                "relay", "--spool", try scene.path("spool-b"), "--to", "127.0.0.1:\(proxy3.port)",
            ] + shipFlags)
            let proxy2 = try scene.proxy(to: relayB.port)
            let relayA = try await scene.node("relay-a", [
                "relay", "--spool", try scene.path("spool-a"), "--to", "127.0.0.1:\(proxy2.port)",
            ] + shipFlags)
            let proxy1 = try scene.proxy(to: relayA.port)
            let proxies = [proxy1, proxy2, proxy3]
            // Each node with the proxy that hides its port from the node before it.
            let fronted = [(relayA, proxy1), (relayB, proxy2), (receiver, proxy3)].filter { victims.contains($0.0.name) }
            let origin = try await TestOrigin(
                host: "chain-origin", source: "chaos", directory: try scene.path("spool-origin"),
                upstreams: [Upstream(host: "127.0.0.1", port: proxy1.port)]
            )
            let outputFile = out + "/chain-origin/chaos.log"
            let expectedBytes = (0..<total).reduce(0) { $0 + TestOrigin.line($1, host: "chain-origin").utf8.count + 1 }
            // Spread the appends over roughly the time the kills take, so they land mid-traffic.
            let batches = (total + batchSize - 1) / batchSize
            let pace = max(5, 1000 * killsEach * fronted.count / batches)

            let lastSequence = try await origin.shipping {
                let produced = Flag()
                let producer = origin.appendPaced(lines: 0..<total, batchSize: batchSize, pause: .milliseconds(pace), done: produced)
                var kills = [String: Int]()
                var cuts = 0
                while fronted.contains(where: { kills[$0.0.name, default: 0] < killsEach }) || !produced.isSet {
                    try await Task.sleep(for: .milliseconds(Int.random(in: 100...600, using: &rng)))
                    if Bool.random(using: &rng) {
                        let (node, proxy) = fronted[Int.random(in: 0..<fronted.count, using: &rng)]
                        let downtime = Int.random(in: 0...300, using: &rng)
                        proxy.setBackendPort(nil)
                        await node.kill9()
                        kills[node.name, default: 0] += 1
                        let written = (try? FileManager.default.attributesOfItem(atPath: outputFile)[.size] as? Int) ?? 0
                        print("\(stamp()) chaos: kill -9 \(node.name) (kill \(kills[node.name, default: 0])), down for \(downtime) ms; receiver has \(written) of \(expectedBytes) bytes")
                        try await Task.sleep(for: .milliseconds(downtime))
                        try await node.start()
                        proxy.setBackendPort(node.port)
                    } else {
                        let which = Int.random(in: 0..<proxies.count, using: &rng)
                        let budget = Int.random(in: 1...(256 << 10), using: &rng)
                        print("\(stamp()) chaos: cut proxy \(which + 1) after \(budget) more bytes")
                        proxies[which].cutAll(afterBytes: budget)
                        cuts += 1
                    }
                }
                print("\(stamp()) chaos over: kills \(kills.sorted { $0.key < $1.key }), \(cuts) cuts breaking \(proxies.map(\.cutConnections).reduce(0, +)) live connections; waiting for delivery")
                let last = try await producer.value
                try await waitUntil("all \(total) events in \(outputFile)", deadline: .seconds(180)) {
                    (try? FileManager.default.attributesOfItem(atPath: outputFile)[.size] as? Int).map { $0 >= expectedBytes } ?? false
                }
                try await origin.waitUntilAcknowledged(through: last, deadline: .seconds(60), "the origin's last batch to be acknowledged")
                print("\(stamp()) delivered")
                return last
            }
            #expect(lastSequence > 0)

            // Graceful shutdown in order; each node must finish its in-flight work and exit 0.
            for node in [relayA, relayB, receiver] {
                let exit = await node.terminate()
                #expect(exit == .exited(0), "\(node.name) exited \(String(describing: exit)) on SIGTERM")
            }
            let report = OriginOutput.check(paths: [outputFile], host: "chain-origin", expected: total)
            print("\(stamp()) \(label) output: \(report)")
            #expect(report.isExact, "receiver output is not every event exactly once in order: \(report)")
            #expect(report.lines == total)
        }
    }
}
