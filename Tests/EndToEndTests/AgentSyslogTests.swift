import Foundation
import LogFerryTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// syslog into the agent from the real util-linux `logger`, over TCP (octet counting and newline framing) and UDP,
/// RFC 5424 and RFC 3164; the receiver writes JSON and every event carries its parsed fields.
@Suite("Agent syslog with logger(1) (real processes)", .serialized)
struct AgentSyslogTests {
    /// One `logger` invocation and what the event must show.
    struct Case {
        var transport: String
        var arguments: [String]
        var app: String
        var facility: String
        var severity: String
        var procID: String?
        var msgID: String?
        var message: String
    }

    @Test("logger over TCP and UDP, RFC 5424 and 3164: events arrive with syslog.app, host, facility, severity, procid, msgid")
    func loggerToAgent() async throws {
        try await FerryScene.run("syslog") { scene in
            let (directory, children) = (scene.directory, scene.children)
            guard FileManager.default.isExecutableFile(atPath: "/usr/bin/logger") else {
                Issue.record("util-linux logger is not installed (/usr/bin/logger)")
                return
            }
            let out = directory.file("out")
            let receiver = try await ReceiverProcess.start(
                spool: directory.file("receiver-spool"), out: out, format: "json",
                stderrPath: directory.file("receiver.stderr"), children: children
            )
            let agent = try startAgent(
                ["--syslog-tcp", "127.0.0.1:0", "--syslog-udp", "127.0.0.1:0"],
                spool: directory.file("agent-spool"), port: receiver.port, host: "syslog-agent",
                stderrPath: directory.file("agent.stderr"), children: children
            )
            let announced = try await awaitAnnouncements(
                agent, prefixes: ["syslog tcp listening on ", "syslog udp listening on "], timeout: .seconds(60)
            )
            let tcpPort = try #require(announced["syslog tcp listening on "].flatMap(portOf))
            let udpPort = try #require(announced["syslog udp listening on "].flatMap(portOf))
            let nonce = UInt32.random(in: 0...UInt32.max)

            let cases = [
                Case(transport: "tcp", arguments: ["--rfc5424", "--octet-count", "--msgid", "MSG1", "--id=4242"],
                     app: "app5424oc", facility: "local3", severity: "err", procID: "4242", msgID: "MSG1",
                     message: "tcp 5424 octet-counted \(nonce)"),
                Case(transport: "tcp", arguments: ["--rfc5424"], app: "app5424nl", facility: "user", severity: "notice",
                     message: "tcp 5424 newline-framed \(nonce) with \"quotes\" and \\ backslash"),
                Case(transport: "tcp", arguments: ["--rfc3164", "--id=777"], app: "app3164tcp", facility: "daemon",
                     severity: "warning", procID: "777", message: "tcp 3164 \(nonce)"),
                Case(transport: "udp", arguments: ["--rfc5424", "--msgid", "MSG2"], app: "app5424udp", facility: "local0",
                     severity: "info", msgID: "MSG2", message: "udp 5424 \(nonce)"),
                Case(transport: "udp", arguments: ["--rfc3164"], app: "app3164udp", facility: "mail", severity: "crit",
                     message: "udp 3164 \(nonce)"),
            ]
            for (index, item) in cases.enumerated() {
                let port = item.transport == "tcp" ? tcpPort : udpPort
                let run = try await ToolProcess.run("/usr/bin/logger", [
                    "--server", "127.0.0.1", "--port", "\(port)", "--\(item.transport)",
                    "-p", "\(item.facility).\(item.severity)", "-t", item.app,
                ] + item.arguments + [item.message], outputPrefix: directory.file("logger-\(index)"), children: children)
                #expect(run.status == 0, "logger \(item.app): \(run.stderr)")
            }
            // Many messages over one TCP connection, octet-counted, from a file (one message per line).
            let many = (0..<200).map { "bulk message \($0) \(nonce)" }
            try Data((many.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: directory.file("bulk.txt")))
            let bulk = try await ToolProcess.run("/usr/bin/logger", [
                "--server", "127.0.0.1", "--port", "\(tcpPort)", "--tcp", "--rfc5424", "--octet-count", "-t", "bulkapp",
                "-f", directory.file("bulk.txt"),
            ], outputPrefix: directory.file("logger-bulk"), children: children)
            #expect(bulk.status == 0, "logger -f: \(bulk.stderr)")

            let expected = cases.count + many.count
            let arrived = await waitUntil(timeout: .seconds(60)) { ReceivedOutput.lineCount(in: out) >= expected }
            #expect(arrived, "received \(ReceivedOutput.lineCount(in: out)) of \(expected); agent stderr:\n\(agent.standardError.suffix(3000))")
            try await Task.sleep(for: .milliseconds(500))

            let events = ReceivedOutput.jsonEvents(in: out)
            #expect(Array(events.keys) == ["syslog-agent/syslog.log"])
            let all = events.values.flatMap { $0 }
            #expect(all.count == expected)
            let host = systemHostName()
            for item in cases {
                let matching = all.filter { ($0["line"] as? String)?.hasSuffix(item.message) == true }
                #expect(matching.count == 1, "\(item.app): \(matching.count) events")
                guard let event = matching.first else { continue }
                let fields = event["fields"] as? [String: String] ?? [:]
                #expect(event["host"] as? String == "syslog-agent")
                #expect(event["source"] as? String == "syslog")
                #expect((event["line"] as? String)?.hasPrefix("<") == true, "the raw message is the line: \(event)")
                #expect(fields["syslog.app"] == item.app, "\(fields)")
                #expect(fields["syslog.host"] == host, "\(fields)")
                #expect(fields["syslog.facility"] == item.facility, "\(fields)")
                #expect(fields["syslog.severity"] == item.severity, "\(fields)")
                #expect(fields["syslog.timestamp"] != nil, "\(fields)")
                #expect(fields["syslog.procid"] == item.procID, "\(fields)")
                #expect(fields["syslog.msgid"] == item.msgID, "\(fields)")
            }
            let bulkLines = all.compactMap { event -> String? in
                guard (event["fields"] as? [String: String])?["syslog.app"] == "bulkapp" else { return nil }
                return (event["line"] as? String).flatMap { line in many.first { line.hasSuffix($0) } }
            }
            #expect(bulkLines == many, "bulk messages: \(bulkLines.count) of \(many.count), in order: \(bulkLines == many)")

            #expect(await stopGracefully(agent) == .exited(0))
            #expect(await stopGracefully(receiver.process) == .exited(0))
        }
    }
}
