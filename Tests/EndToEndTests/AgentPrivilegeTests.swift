import Foundation
import LogFerryTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Agents run as an unprivileged user on real hosts. Run as root, these tests drop to `nobody` with util-linux
/// setpriv so that anything needing a privilege (a capability, a root-only socket option) shows up.
@Suite("Agent without privileges (real processes)", .serialized)
struct AgentPrivilegeTests {
    @Test("an agent running as nobody connects to its receiver and ships its lines")
    func unprivilegedAgentShips() async throws {
        guard geteuid() == 0 else { return }  // Already unprivileged: every other test covers it.
        try await FerryScene.run("unprivileged") { scene in
            let (directory, children) = (scene.directory, scene.children)
            let logs = directory.file("logs")
            let out = directory.file("out")
            let spool = directory.file("agent-spool")
            for path in [logs, spool] { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
            #expect(chown(spool, 65534, 65534) == 0)
            try appendToFile(logs + "/app.log", AgentFileTests.numberedLines("nobody", 0..<1000))
            let receiver = try await ReceiverProcess.start(
                spool: directory.file("receiver-spool"), out: out, stderrPath: directory.file("receiver.stderr"), children: children
            )
            let agent = try ToolProcess("/usr/bin/setpriv", [
                "--reuid=65534", "--regid=65534", "--clear-groups", "--", LogFerryProcess.binaryPath,
                "agent", "--file", logs + "/*.log", "--spool", spool, "--to", "127.0.0.1:\(receiver.port)",
                "--host-name", "nobody-host", "--backoff-cap-ms", "1000",
            ], outputPrefix: directory.file("agent"), children: children)
            let arrived = await waitUntil(timeout: .seconds(30)) { ReceivedOutput.lineCount(in: out) >= 1000 }
            let failures = agent.standardError.split(separator: "\n").filter { $0.contains("cannot connect") }
            #expect(arrived, "received \(ReceivedOutput.lineCount(in: out)) of 1000 lines; \(failures.count) failed connects, last: \(failures.last ?? "none")")
            if arrived {
                try await Task.sleep(for: .milliseconds(300))
                let lines = outputLines(ReceivedOutput.rawLines(in: out), host: "nobody-host", file: "app.log") ?? []
                #expect(lines.compactMap { AgentFileTests.number($0, tag: "nobody") } == Array(0..<1000))
            }
            agent.signal(SIGTERM)
            #expect(await agent.wait(timeout: .seconds(60)) == 0)
            #expect(await stopGracefully(receiver.process) == .exited(0))
        }
    }

    @Test("a receiver running as nobody accepts an agent's connection and writes its lines")
    func unprivilegedReceiverAccepts() async throws {
        guard geteuid() == 0 else { return }
        try await FerryScene.run("unprivileged-receiver") { scene in
            let (directory, children) = (scene.directory, scene.children)
            let logs = directory.file("logs")
            let out = directory.file("out")
            let spool = directory.file("receiver-spool")
            for path in [logs, out, spool] {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
                #expect(chown(path, 65534, 65534) == 0)
            }
            try appendToFile(logs + "/app.log", AgentFileTests.numberedLines("toNobody", 0..<1000))
            let receiver = try ToolProcess("/usr/bin/setpriv", [
                "--reuid=65534", "--regid=65534", "--clear-groups", "--", LogFerryProcess.binaryPath,
                "receive", "--listen", "127.0.0.1:0", "--spool", spool, "--out", out,
            ], outputPrefix: directory.file("receiver"), children: children)
            var port: Int?
            _ = await waitUntil(timeout: .seconds(60)) {
                port = receiver.standardOutput.split(separator: "\n").first { $0.hasPrefix("listening on ") }
                    .flatMap { portOf(String($0)) }
                return port != nil
            }
            let receiverPort = try #require(port, "receiver did not announce; stderr:\n\(receiver.standardError.suffix(2000))")
            let agent = try startAgent(
                ["--file", logs + "/*.log"], spool: directory.file("agent-spool"), port: receiverPort, host: "to-nobody",
                stderrPath: directory.file("agent.stderr"), children: children
            )
            let arrived = await waitUntil(timeout: .seconds(30)) { ReceivedOutput.lineCount(in: out) >= 1000 }
            let problems = (agent.standardError + receiver.standardError).split(separator: "\n").filter { $0.contains("warning") || $0.contains("error") }
            #expect(arrived, "received \(ReceivedOutput.lineCount(in: out)) of 1000 lines; last problem: \(problems.last ?? "none")")
            #expect(await stopGracefully(agent) == .exited(0))
            receiver.signal(SIGTERM)
            #expect(await receiver.wait(timeout: .seconds(60)) == 0)
        }
    }
}
