import Foundation
import LogFerryTestSupport
import Testing

/// A receiver's output files leave the page cache once durable, unless `--keep-outputs-cached` keeps them
/// (Docs/CONFIGURATION.md, `keep-outputs-cached`).
@Suite("Output pages and the page cache (real processes)")
struct OutputPageCacheTests {
    @Test("a receiver drops its durable output pages by default and keeps them with --keep-outputs-cached",
          .enabled(if: PageCache.dropsPages(in: NSTemporaryDirectory()), "the temporary directory is on tmpfs, whose pages cannot be dropped"))
    func outputPages() async throws {
        try await FerryScene.run("output-pages") { scene in
            let logs = try scene.path("logs", create: true)
            // 40,000 lines of 100 bytes: 4 MB of output, well past a write-back chunk.
            let lines = (0..<40_000).map { String(format: "page cache line %08d ", $0) + String(repeating: "x", count: 73) }
            try appendToFile(logs + "/app.log", Array((lines.joined(separator: "\n") + "\n").utf8))
            let expectedBytes = lines.reduce(0) { $0 + $1.utf8.count + 1 }   // raw format: the line and a newline
            for keep in [false, true] {
                let name = keep ? "kept" : "dropped"
                let out = try scene.path("out-\(name)")
                let receiver = try await ReceiverProcess.start(
                    spool: try scene.path("receiver-spool-\(name)"), out: out, arguments: keep ? ["--keep-outputs-cached"] : [],
                    stderrPath: try scene.path("receiver-\(name).stderr"), children: scene.children)
                let agent = try startAgent(
                    ["--file", logs + "/app.log"], spool: try scene.path("agent-spool-\(name)"), port: receiver.port,
                    host: "pages", stderrPath: try scene.path("agent-\(name).stderr"), children: scene.children)
                // Watched by its size: reading the file would bring its pages back into the cache.
                let file = out + "/pages/" + (logs + "/app.log").replacingOccurrences(of: "/", with: "_")
                let size = { (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0 }
                let arrived = await waitUntil(timeout: .seconds(60)) { size() >= expectedBytes }
                #expect(arrived, "\(name): \(size()) of \(expectedBytes) bytes in \(file)")
                if keep {
                    // Committed (the sink commits within its 200 ms interval once the spool runs dry) and still cached.
                    try await Task.sleep(for: .seconds(1))
                    #expect(try PageCache.residentPages(file) > 0)
                } else {
                    let dropped = await waitUntil(timeout: .seconds(10)) { (try? PageCache.residentPages(file)) == 0 }
                    #expect(dropped, "\((try? PageCache.residentPages(file)) ?? -1) pages of \(file) still cached")
                }
                #expect(await stopGracefully(agent) == .exited(0))
                #expect(await stopGracefully(receiver.process) == .exited(0))
                #expect(ReceivedOutput.lineCount(in: out) == lines.count)
            }
        }
    }
}
