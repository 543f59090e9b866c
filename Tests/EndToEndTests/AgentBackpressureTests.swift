import Foundation
import LogFerryTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A capped spool under `block`: while the receiver is away the agent stops reading (the lines wait in the files);
/// once the receiver is back and acknowledges, space is freed and reading resumes until every line is shipped.
@Suite("Agent backpressure (real processes)", .serialized)
struct AgentBackpressureTests {
    @Test("a full spool under block resumes when the receiver returns: every line arrives once")
    func fullSpoolResumes() async throws {
        try await FerryScene.run("backpressure") { scene in
            let (directory, children) = (scene.directory, scene.children)
            let logs = try scene.path("logs", create: true)
            let out = directory.file("out")
            let lineCount = 60_000
            // About 6.5 MB of poorly compressible lines against a 2 MB spool.
            try appendToFile(logs + "/app.log", AgentFileTests.numberedLines("bp", 0..<lineCount, hex: true))

            let port = try freeTCPPort()
            let agent = try startAgent(
                ["--file", logs + "/*.log", "--max-spool-bytes", "2000000", "--segment-bytes", "131072", "--batch-bytes", "65536"],
                spool: directory.file("agent-spool"), port: port, host: "bp-host",
                stderrPath: directory.file("agent.stderr"), children: children
            )
            // Let the agent fill its spool and block.
            try await Task.sleep(for: .seconds(4))
            let receiver = try await ReceiverProcess.start(
                spool: directory.file("receiver-spool"), out: out, port: port,
                stderrPath: directory.file("receiver.stderr"), children: children
            )
            let complete = await waitUntil(timeout: .seconds(60)) { ReceivedOutput.lineCount(in: out) >= lineCount }
            #expect(complete, "received \(ReceivedOutput.lineCount(in: out)) of \(lineCount) lines; agent stderr:\n\(agent.standardError.suffix(3000))")
            try await Task.sleep(for: .milliseconds(500))
            let lines = outputLines(ReceivedOutput.rawLines(in: out), host: "bp-host", file: "app.log") ?? []
            #expect(lines.compactMap { AgentFileTests.number($0, tag: "bp") } == Array(0..<lineCount))

            #expect(await stopGracefully(agent) == .exited(0))
            #expect(await stopGracefully(receiver.process) == .exited(0))
        }
    }
}
