import Foundation
import LogFerryNode
import LogFerryTestSupport
import Testing

/// A receiver whose disk "fills" (its file-size limit is lowered under it with prlimit, so writes fail with
/// EFBIG) must stay up, lose nothing, and deliver everything once space is back.
@Suite("Receiver with a full disk (real processes)", .serialized)
struct FerryDiskFullTests {
    @Test("writes fail with EFBIG for a while: the receiver keeps running, refuses or waits, then delivers every event once")
    func diskFullThenFreed() async throws {
        let events = 60_000
        try await FerryScene.run("ferry-disk-full") { scene in
            let out = try scene.path("out", create: true)
            let receiver = try await scene.node("receiver", [
                "receive", "--spool", try scene.path("spool-receiver"), "--out", out, "--segment-bytes", "1048576",
            ])
            let pid = try #require(receiver.process?.pid)
            let origin = try await TestOrigin(
                host: "full-origin", source: "full", directory: try scene.path("spool-origin"),
                upstreams: [Upstream(host: "127.0.0.1", port: receiver.port)]
            )
            let file = out + "/full-origin/full.log"
            let expected = (0..<events).reduce(0) { $0 + TestOrigin.line($1, host: "full-origin").utf8.count + 1 }
            try await origin.shipping {
                // A first part arrives normally.
                let first = try await origin.append(lines: 0..<10_000, batchSize: 1000)
                try await origin.waitUntilAcknowledged(through: first, deadline: .seconds(60), "the first part")
                // Now every file of the receiver may grow to at most 1 MB: its spool segments and its output fill.
                try Self.prlimit(pid: pid, fileSize: "1000000")
                let last = try await origin.append(lines: 10_000..<events, batchSize: 1000)
                try await Task.sleep(for: .seconds(4))
                #expect(kill(pid, 0) == 0, "the receiver must survive a full disk")
                // Space is back: everything arrives, once.
                try Self.prlimit(pid: pid, fileSize: "unlimited")
                try await origin.waitUntilAcknowledged(through: last, deadline: .seconds(120), "everything after the disk freed")
                try await waitUntil("all \(events) events written", deadline: .seconds(120)) {
                    (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int).map { $0 >= expected } ?? false
                }
            }
            let report = OriginOutput.check(paths: [file], host: "full-origin", expected: events)
            #expect(report.isExact, "after a full disk: \(report)")
            #expect(await receiver.terminate() == .exited(0))
        }
    }

    static func prlimit(pid: Int32, fileSize: String) throws {
        // Only the soft limit moves: raising a hard limit again needs privileges a sandbox may not give.
        let process = try ChildProcess("/usr/bin/prlimit", ["--pid", "\(pid)", "--fsize=\(fileSize):unlimited"])
        #expect(process.waitBlocking() == .exited(0), "prlimit failed")
    }
}
