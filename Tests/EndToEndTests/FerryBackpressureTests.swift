import Foundation
import LogFerryNode
import LogFerryTestSupport
import Testing

/// Backpressure through a relay whose spool is capped with the `block` policy and whose next hop is down:
/// the relay must stop taking batches (not grow its spool past the cap, not drop anything), and deliver
/// everything exactly once when the next hop comes up.
@Suite("Ferry backpressure through a full relay (real processes)", .serialized)
struct FerryBackpressureTests {
    @Test("relay with a full spool (block) and no receiver: stays under its cap, then delivers every event exactly once")
    func fullRelayBlocksThenDelivers() async throws {
        let total = 200_000
        let cap = 128 << 10
        let segment = 16 << 10
        try await FerryScene.run("ferry-backpressure") { scene in
            let out = try scene.path("out", create: true)
            let relaySpool = try scene.path("spool-relay")
            // The receiver is not up yet: the proxy turns connections away.
            let proxy = try scene.proxy(to: nil)
            let relay = try await scene.node("relay", [
                "relay", "--spool", relaySpool, "--to", "127.0.0.1:\(proxy.port)",
                "--max-spool-bytes", "\(cap)", "--segment-bytes", "\(segment)", "--spool-policy", "block",
                "--backoff-base-ms", "20", "--backoff-cap-ms", "500",
            ])
            let origin = try await TestOrigin(
                host: "bp-origin", source: "bp", directory: try scene.path("spool-origin"),
                upstreams: [Upstream(host: "127.0.0.1", port: relay.port)]
            )
            let last = try await origin.append(lines: 0..<total, batchSize: 1024)
            let originBytes = directoryBytes(try scene.path("spool-origin"))
            try #require(originBytes > 2 * cap, "the test needs more data (\(originBytes) bytes) than twice the relay's cap")
            let file = out + "/bp-origin/bp.log"
            let expectedBytes = (0..<total).reduce(0) { $0 + TestOrigin.line($1, host: "bp-origin").utf8.count + 1 }

            try await origin.shipping {
                // Fill the relay up to its cap.
                try await waitUntil("the relay's spool to fill", deadline: .seconds(60)) {
                    directoryBytes(relaySpool) >= cap - 2 * segment
                }
                var largest = 0
                for _ in 0..<40 {
                    largest = max(largest, directoryBytes(relaySpool))
                    try await Task.sleep(for: .milliseconds(50))
                }
                let acknowledged = await origin.sink.acknowledged
                print("backpressure: relay spool peaked at \(largest) bytes (cap \(cap)); origin acknowledged \(acknowledged) of \(last)")
                #expect(largest <= cap + segment, "the relay's spool grew to \(largest) bytes, past its cap of \(cap)")
                #expect(acknowledged < last, "a full relay with no next hop acknowledged everything")

                // The receiver comes up: everything flows.
                let receiver = try await scene.node("receiver", ["receive", "--spool", try scene.path("spool-receiver"), "--out", out])
                proxy.setBackendPort(receiver.port)
                do {
                    try await origin.waitUntilAcknowledged(through: last, deadline: .seconds(60), "every batch to pass the relay")
                } catch {
                    let segments = (try? FileManager.default.contentsOfDirectory(atPath: relaySpool + "/segments")) ?? []
                    Issue.record("""
                        the relay stays full after its next hop came up: origin acknowledged \(await origin.sink.acknowledged) of \(last), \
                        relay spool \(directoryBytes(relaySpool)) bytes in \(segments.count) segments (cap \(cap))
                        """)
                    throw error
                }
                try await waitUntil("all \(total) events written", deadline: .seconds(120)) {
                    (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int).map { $0 >= expectedBytes } ?? false
                }
                #expect(await receiver.terminate() == .exited(0))
            }
            #expect(await relay.terminate() == .exited(0))
            let report = OriginOutput.check(paths: [file], host: "bp-origin", expected: total)
            print("backpressure: \(report)")
            #expect(report.isExact, "after backpressure: \(report)")
        }
    }
}
