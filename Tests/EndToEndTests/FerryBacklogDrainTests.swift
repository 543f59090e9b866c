import Foundation
import LogFerryTestSupport
import Testing

/// A backlog that an agent built while its upstream was down drains within a second or two once the upstream is
/// back, consuming and deleting a hundred segments. Nothing may be lost or doubled, and nothing may be *reported*
/// lost (``FerryScene`` fails any scene whose children report a spool gap). In a 1 GB drain the ferry sink's
/// backlog-age probe, left behind in a segment deleted under it, once logged "segment missing from the middle of
/// the spool: its records are lost" while every line arrived. That depends on where the probe's once-a-second
/// tick falls, and this test did not hit it with the old reader in two runs: `SpoolTests` ("a reader left
/// behind...") is the deterministic test of the fix; this one guards the drain as a whole.
@Suite("Backlog drain after an outage (real processes)", .serialized)
struct FerryBacklogDrainTests {
    @Test("300,000 lines spooled in 16 KiB segments while the receiver is down, then drained: every line once, no gap reported")
    func drainReportsNoGap() async throws {
        let total = 300_000
        let host = "drain-origin"
        try await FerryScene.run("backlog-drain") { scene in
            let out = try scene.path("out", create: true)
            let spool = try scene.path("spool-agent")
            let log = try scene.path("app.log")
            // The receiver is not up: the proxy turns connections away.
            let proxy = try scene.proxy(to: nil)
            try TestOrigin.appendLines(0..<total, host: host, to: log)
            let agent = RestartableNode(name: "agent", arguments: [
                "--file", log, "--spool", spool, "--to", "127.0.0.1:\(proxy.port)", "--host-name", host,
                "--segment-bytes", "16384", "--batch-bytes", "8192", "--backoff-base-ms", "20", "--backoff-cap-ms", "300",
            ], logDirectory: scene.directory.path, children: scene.children)
            try agent.start()
            // Spooled: the spool has stopped growing for a second.
            var last = -1
            var steady = 0
            let deadline = ContinuousClock.now + .seconds(120)
            while steady < 10 {
                guard ContinuousClock.now < deadline else { throw HarnessError("the agent did not spool the file within 120 s") }
                try await Task.sleep(for: .milliseconds(100))
                let bytes = directoryBytes(spool + "/segments")
                steady = bytes == last && bytes > 0 ? steady + 1 : 0
                last = bytes
            }
            let segments = (try? FileManager.default.contentsOfDirectory(atPath: spool + "/segments"))?.count ?? 0
            print("backlog-drain: \(last) bytes spooled in \(segments) segments")
            #expect(segments >= 50, "the test needs a backlog of many segments; it has \(segments)")

            let receiver = try await scene.node("receiver", ["receive", "--spool", try scene.path("spool-receiver"), "--out", out])
            let started = ContinuousClock.now
            proxy.setBackendPort(receiver.port)
            try await waitUntil("all \(total) lines at the receiver", deadline: .seconds(120)) {
                OriginOutput.lineCount(in: out, host: host) >= total
            }
            print("backlog-drain: drained in \(ContinuousClock.now - started)")
            // Two more ticks of the backlog-age probe after the drain.
            try await Task.sleep(for: .seconds(2))
            #expect(await agent.terminate() == .exited(0))
            #expect(await receiver.terminate() == .exited(0))
            let report = OriginOutput.check(paths: OriginOutput.files(in: out, host: host), host: host, expected: total)
            #expect(report.missing == 0 && report.duplicates == 0 && report.garbled == 0, "after the drain: \(report)")
            #expect(agent.occurrencesInAllRuns(of: "segment missing") == 0, "the agent reported a gap:\(agent.lines(containing: "segment missing"))")
        }
    }
}
