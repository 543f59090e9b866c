import Foundation
import LogFerryTestSupport
import Testing

/// `--compressor` and `--compression-level`: every backend's batches reach a receiver (which inflates with
/// libdeflate), and a value that names no backend is an error naming the flag.
@Suite("Compressor flag (real processes)", .serialized)
struct CompressorFlagTests {
    @Test("an agent sealing with libdeflate, zlib or isal at level 6 ships every line", arguments: ["libdeflate", "zlib", "isal"])
    func everyCompressorShips(_ compressor: String) async throws {
        try await FerryScene.run("compressor-\(compressor)") { scene in
            let (directory, children) = (scene.directory, scene.children)
            let out = directory.file("out")
            let lines = (0..<5_000).map { "line \($0) compressed by \(compressor) " + String(repeating: "x", count: $0 % 200) }
            try Data(lines.joined(separator: "\n").utf8).write(to: URL(fileURLWithPath: directory.file("input.txt")))
            let receiver = try await ReceiverProcess.start(
                spool: directory.file("receiver-spool"), out: out, stderrPath: directory.file("receiver.stderr"), children: children
            )
            let agent = try ToolProcess(LogFerryProcess.binaryPath, [
                "agent", "--stdin", "--exit-when-drained", "--spool", directory.file("agent-spool"),
                "--to", "127.0.0.1:\(receiver.port)", "--host-name", "deflate-host",
                "--compressor", compressor, "--compression-level", "6", "--batch-events", "700",
            ], stdinFile: directory.file("input.txt"), outputPrefix: directory.file("agent"), children: children)
            let status = await agent.wait(timeout: .seconds(120))
            #expect(status == 0, "agent exit \(String(describing: status)); stderr:\n\(agent.standardError.suffix(3000))")
            let arrived = await waitUntil(timeout: .seconds(60)) { ReceivedOutput.lineCount(in: out) >= lines.count }
            #expect(arrived, "received \(ReceivedOutput.lineCount(in: out)) of \(lines.count)")
            let received = outputLines(ReceivedOutput.rawLines(in: out), host: "deflate-host", file: "stdin") ?? []
            #expect(received == lines.map { Array($0.utf8) })
            #expect(await stopGracefully(receiver.process) == .exited(0))
        }
    }

    @Test("--compressor with an unknown library is an error naming the flag and the choices")
    func unknownCompressor() async throws {
        let directory = try TemporaryDirectory("compressor-flag")
        defer { directory.remove() }
        let stderrPath = directory.file("agent.stderr")
        let run = try await LogFerryProcess.run([
            "agent", "--stdin", "--spool", directory.file("spool"), "--to", "127.0.0.1:9", "--compressor", "gzip",
        ], stderrPath: stderrPath, timeout: .seconds(60))
        #expect(run.exit != .exited(0))
        #expect(run.standardError.contains("compressor"), "\(run.standardError)")
        #expect(run.standardError.contains("gzip"), "\(run.standardError)")
        #expect(run.standardError.contains("isal, libdeflate or zlib"), "\(run.standardError)")
    }
}
