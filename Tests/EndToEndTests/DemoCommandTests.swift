import Foundation
import LogFerryTestSupport
import Testing

/// The README's first command, `logferry demo`: a receiver and an agent shipping sample lines, checked line by line.
@Suite("logferry demo (the README's first command)")
struct DemoCommandTests {
    @Test("the demo ships its sample lines and reports every one arrived exactly once, with its files where it says")
    func demoShipsEveryLineOnce() async throws {
        let directory = try TemporaryDirectory("demo")
        defer { directory.remove() }
        let root = directory.file("demo")
        let (exit, output, standardError) = try await LogFerryProcess.run(
            ["demo", "--root", root, "--lines", "30000"], stderrPath: directory.file("demo.stderr"),
            timeout: .seconds(120))
        #expect(exit == .exited(0), "demo failed: \(output)\n\(standardError.suffix(2000))")
        #expect(output.contains("summary: 30000 lines written, 30000 received"), "\(output.suffix(1000))")
        #expect(output.contains("missing 0, duplicated 0: every line arrived exactly once"), "\(output.suffix(1000))")
        // The received file it names holds every sample line once.
        let received = output.split(separator: "\n").first { $0.hasPrefix("received files: ") }
            .map { String($0.dropFirst("received files: ".count)) }
        let path = try #require(received, "the demo names its received files: \(output.suffix(1000))")
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 30_001 && lines.last == "", "\(path) has \(lines.count - 1) lines")
        #expect(Set(lines.dropLast()).count == 30_000, "every line of \(path) is distinct")
    }
}
