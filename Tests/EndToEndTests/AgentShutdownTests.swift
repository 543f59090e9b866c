import Foundation
import LogFerryTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM is the agent's graceful stop: it must end (exit 0) whatever peers are connected to it.
@Suite("Agent shutdown (real processes)", .serialized)
struct AgentShutdownTests {
    @Test("SIGTERM ends the agent even while a metrics scraper holds a keep-alive connection open")
    func sigtermWithOpenMetricsConnection() async throws {
        try await FerryScene.run("shutdown") { scene in
            let (directory, children) = (scene.directory, scene.children)
            let logs = try scene.path("logs", create: true)
            try appendToFile(logs + "/app.log", Array("one line\n".utf8))
            let receiver = try await ReceiverProcess.start(
                spool: directory.file("receiver-spool"), out: directory.file("out"),
                stderrPath: directory.file("receiver.stderr"), children: children
            )
            let metricsPort = try freeTCPPort()
            let agent = try startAgent(
                ["--file", logs + "/*.log", "--metrics-listen", "127.0.0.1:\(metricsPort)"],
                spool: directory.file("agent-spool"), port: receiver.port, host: "shutdown-host",
                stderrPath: directory.file("agent.stderr"), children: children
            )
            let up = await waitUntil(timeout: .seconds(30)) { httpGet(port: metricsPort, path: "/metrics") != nil }
            #expect(up, "no metrics endpoint; stderr:\n\(agent.standardError.suffix(2000))")
            // Prometheus keeps its scrape connections alive between scrapes: one scrape, connection left open.
            let connection = try #require(connectTCP(port: metricsPort))
            defer { close(connection) }
            #expect(httpExchange(connection, path: "/metrics", keepAlive: true)?.contains("logferry_") == true)

            agent.signal(SIGTERM)
            // A generous deadline that only turns a hang into a failure: a healthy agent stops within a second.
            let stopped = await waitUntil(timeout: .seconds(30)) { kill(agent.pid, 0) != 0 || agent.standardError.contains("spool closed") }
            #expect(stopped, "the agent did not stop within 30 s of SIGTERM while a metrics connection was open")
            if stopped { #expect(await agent.wait() == .exited(0)) }

            #expect(await stopGracefully(receiver.process) == .exited(0))
        }
    }
}
