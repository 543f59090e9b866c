import Foundation
import LogFerryTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `some-program | logferry agent --stdin --exit-when-drained`: the agent exits 0 once the receiver has every line.
@Suite("Agent stdin (real processes)", .serialized)
struct AgentStdinTests {
    /// Lines with the awkward bits: empty lines, backslashes, tabs, multi-byte UTF-8, a CRLF ending, and a last line
    /// without its newline (shipped at end of input).
    static func content(count: Int) -> (bytes: [UInt8], lines: [[UInt8]]) {
        var lines: [[UInt8]] = []
        for number in 0..<count {
            switch number % 7 {
            case 0: lines.append(Array("line \(number) plain".utf8))
            case 1: lines.append(Array("line \(number) back\\slash \\n not a newline".utf8))
            case 2: lines.append(Array("line \(number)\ttab — ünïcödé ✓".utf8))
            case 3: lines.append([])
            default: lines.append(Array("line \(number) ".utf8) + [UInt8](repeating: UInt8(ascii: "x"), count: number % 300))
            }
        }
        var bytes: [UInt8] = []
        for (index, line) in lines.enumerated() {
            bytes += line
            if index == count - 1 { break }
            bytes += index % 11 == 5 ? [0x0D, 0x0A] : [0x0A]
        }
        return (bytes, lines)
    }

    /// Runs one agent on `stdin` (a pipe fed by the test, or a regular file) and checks the receiver's output.
    func shipThroughStdin(viaPipe: Bool, label: String) async throws {
        try await FerryScene.run(label) { scene in
            let (directory, children) = (scene.directory, scene.children)
            let out = directory.file("out")
            let (bytes, lines) = Self.content(count: 30_000)
            let receiver = try await ReceiverProcess.start(
                spool: directory.file("receiver-spool"), out: out, stderrPath: directory.file("receiver.stderr"), children: children
            )
            let arguments = [
                "agent", "--stdin", "--exit-when-drained", "--spool", directory.file("agent-spool"),
                "--to", "127.0.0.1:\(receiver.port)", "--host-name", "stdin-host",
            ]
            let agent: ToolProcess
            if viaPipe {
                agent = try ToolProcess(LogFerryProcess.binaryPath, arguments, pipeStdin: true,
                                        outputPrefix: directory.file("agent"), children: children)
                // In pieces with pauses, as a producing program would write.
                let pieces = stride(from: 0, to: bytes.count, by: 100_000).map { Array(bytes[$0..<min(bytes.count, $0 + 100_000)]) }
                for (index, piece) in pieces.enumerated() {
                    await agent.writeStdin(Data(piece), close: index == pieces.count - 1)
                    try await Task.sleep(for: .milliseconds(20))
                }
            } else {
                try Data(bytes).write(to: URL(fileURLWithPath: directory.file("input.txt")))
                agent = try ToolProcess(LogFerryProcess.binaryPath, arguments, stdinFile: directory.file("input.txt"),
                                        outputPrefix: directory.file("agent"), children: children)
            }
            let status = await agent.wait(timeout: .seconds(120))
            #expect(status == 0, "agent exit \(String(describing: status)); stderr:\n\(agent.standardError.suffix(3000))")

            // The agent exited only after the receiver acknowledged everything: it is all in the receiver's spool, and
            // its file sink writes it out.
            let arrived = await waitUntil(timeout: .seconds(60)) { ReceivedOutput.lineCount(in: out) >= lines.count }
            #expect(arrived, "received \(ReceivedOutput.lineCount(in: out)) of \(lines.count)")
            let received = outputLines(ReceivedOutput.rawLines(in: out), host: "stdin-host", file: "stdin") ?? []
            #expect(received.count == lines.count)
            let firstDifference = zip(received, lines).enumerated().first { $0.element.0 != $0.element.1 }
            #expect(firstDifference == nil, "first difference at line \(String(describing: firstDifference?.offset)): \(String(describing: firstDifference.map { String(decoding: $0.element.0, as: UTF8.self) }))")

            #expect(await stopGracefully(receiver.process) == .exited(0))
        }
    }

    @Test("a pipe into --stdin --exit-when-drained: exit 0 and every line arrives, in order")
    func pipe() async throws {
        try await shipThroughStdin(viaPipe: true, label: "stdin-pipe")
    }

    @Test("a regular file redirected to --stdin --exit-when-drained: exit 0 and every line arrives, in order")
    func regularFile() async throws {
        try await shipThroughStdin(viaPipe: false, label: "stdin-file")
    }
}
