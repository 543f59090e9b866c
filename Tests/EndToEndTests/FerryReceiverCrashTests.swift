import Foundation
import LogFerryNode
import LogFerryTestSupport
import Testing

/// The file sink's half of exactly-once: `logferry receive` is killed with SIGKILL while it writes (and
/// rotates) its output files, and restarted on the same spool and output directory. It must cut its files
/// back to their committed lengths and carry on, so that no line is doubled or missing.
@Suite("Receiver kill -9 while writing (real processes)", .serialized)
struct FerryReceiverCrashTests {
    @Test("kill -9 the receiver 6 times while its file sink writes and rotates: no line doubled or missing")
    func receiverKilledWhileWriting() async throws {
        let total = 300_000
        let batchSize = 1024
        let kills = 6
        var rng = SeededGenerator.fromEnvironment(test: "receiver-crash")

        try await FerryScene.run("ferry-receiver-crash") { scene in
            let out = try scene.path("out", create: true)
            // Small output files so rotations (and kills during them) happen too.
            let receiver = try await scene.node("receiver", [
                "receive", "--spool", try scene.path("spool-receiver"), "--out", out, "--rotate-bytes", "3000000",
            ])
            // The proxy only hides the receiver's changing port; it cuts nothing.
            let proxy = try scene.proxy(to: receiver.port)
            let origin = try await TestOrigin(
                host: "crash-origin", source: "app/main.log", directory: try scene.path("spool-origin"),
                upstreams: [Upstream(host: "127.0.0.1", port: proxy.port)]
            )
            let directory = out + "/crash-origin"
            let expectedBytes = (0..<total).reduce(0) { $0 + TestOrigin.line($1, host: "crash-origin").utf8.count + 1 }

            try await origin.shipping {
                let produced = Flag()
                let producer = origin.appendPaced(lines: 0..<total, batchSize: batchSize, pause: .milliseconds(25), done: produced)
                for kill in 1...kills {
                    // Wait for the file sink to be busy: the output grows between two looks.
                    try await waitUntil("the receiver to be writing before kill \(kill)", deadline: .seconds(60)) {
                        let before = Self.outputBytes(in: directory)
                        try await Task.sleep(for: .milliseconds(20))
                        return Self.outputBytes(in: directory) > before
                    }
                    try await Task.sleep(for: .milliseconds(Int.random(in: 0...400, using: &rng)))
                    proxy.setBackendPort(nil)
                    await receiver.kill9()
                    print("receiver-crash: kill -9 \(kill) with \(Self.outputBytes(in: directory)) bytes written")
                    try await receiver.start()
                    proxy.setBackendPort(receiver.port)
                }
                let last = try await producer.value
                #expect(produced.isSet)
                try await origin.waitUntilAcknowledged(through: last, deadline: .seconds(120), "the origin's last batch to be acknowledged")
                try await waitUntil("all \(total) events written", deadline: .seconds(120)) {
                    Self.outputBytes(in: directory) >= expectedBytes
                }
            }
            let exit = await receiver.terminate()
            #expect(exit == .exited(0), "receiver exited \(String(describing: exit)) on SIGTERM")

            let files = ReceivedOutput.rotatedFiles(in: directory, name: "app_main.log")
            print("receiver-crash: output files \(files.map { ($0 as NSString).lastPathComponent })")
            #expect(files.count > 1, "expected the output to have rotated at least once")
            let report = OriginOutput.check(paths: files, host: "crash-origin", expected: total)
            print("receiver-crash: \(report)")
            #expect(report.isExact, "receiver output after \(kills) kills is not every line exactly once: \(report)")
        }
    }

    /// The total size of the files in `directory`.
    static func outputBytes(in directory: String) -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.reduce(0) { sum, name in
            sum + ((try? FileManager.default.attributesOfItem(atPath: directory + "/" + name)[.size] as? Int) ?? 0)
        }
    }
}
