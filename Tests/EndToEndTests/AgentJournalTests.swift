import Foundation
import LogFerryTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The journal input through real processes, without a running journald: `systemd-journal-remote` writes the
/// journal files while `logferry agent --journal-dir` reads them and ships to `logferry receive`. The agent is
/// killed with SIGKILL mid-way, the active file is rotated and the archived one vacuumed, and a stored cursor
/// whose file was vacuumed while the agent was down is resumed from; every entry arrives exactly once, with its
/// fields.
@Suite(
    "Agent journal input (real processes)", .serialized,
    .enabled(if: JournalExport.isAvailable, "systemd-journal-remote is not installed (Debian package systemd-journal-remote)")
)
struct AgentJournalTests {
    static let host = "journal-agent"

    /// A receiver writing JSON, a journal directory and an agent reading it.
    struct Setup {
        let scene: FerryScene
        let journals: String
        let out: String
        let receiver: ReceiverProcess
        let agent: RestartableNode
        let boot = JournalExport.randomBootID()
        let start = JournalExport.nowMicroseconds() - 3_600_000_000

        init(_ scene: FerryScene, extraArguments: [String] = []) async throws {
            self.scene = scene
            journals = try scene.path("journal", create: true)
            out = try scene.path("out", create: true)
            receiver = try await ReceiverProcess.start(
                spool: try scene.path("receiver-spool"), out: out, format: "json",
                stderrPath: try scene.path("receiver.stderr"), children: scene.children
            )
            agent = RestartableNode(
                name: "agent",
                arguments: [
                    "--journal-dir", journals, "--spool", try scene.path("agent-spool"),
                    "--to", "127.0.0.1:\(receiver.port)", "--host-name", AgentJournalTests.host, "--backoff-cap-ms", "1000",
                    "--batch-events", "64", "--linger-ms", "50",
                ] + extraArguments,
                logDirectory: scene.directory.path, children: scene.children
            )
        }

        /// Starts the agent and waits until it has opened and positioned the journal.
        func startAgent() async throws {
            try agent.start()
            guard let process = agent.process else { throw HarnessError("the agent did not start") }
            _ = try await awaitAnnouncements(process, prefixes: ["journal reading "], timeout: .seconds(60))
        }

        func write(_ numbers: Range<Int>, to name: String) async throws {
            try await JournalExport.write(
                JournalExport.numbered(numbers, boot: boot, start: start), to: journals + "/" + name,
                scratch: scene.directory.path, children: scene.children
            )
        }

        /// The journal events the receiver wrote, in order.
        func events() -> [[String: Any]] {
            ReceivedOutput.jsonEvents(in: out)["\(AgentJournalTests.host)/journal.log"] ?? []
        }

        /// Waits until the receiver holds `count` events (or the deadline passes), then a little longer so that a
        /// duplicate would show.
        func waitForEvents(_ count: Int) async -> Bool {
            let arrived = await waitUntil(timeout: .seconds(120)) { ReceivedOutput.lineCount(in: out) >= count }
            try? await Task.sleep(for: .seconds(1))
            return arrived
        }

        /// Checks that the receiver holds exactly the entries `numbers`, once each, in order, with their fields.
        func expectExactly(_ numbers: [Int], sourceLocation: SourceLocation = #_sourceLocation) {
            let events = events()
            let lines = events.map { $0["line"] as? String ?? "" }
            let expected = numbers.map(JournalExport.message)
            #expect(lines.count == expected.count, "received \(lines.count) events, expected \(expected.count)", sourceLocation: sourceLocation)
            if lines != expected {
                let counts = Dictionary(lines.map { ($0, 1) }, uniquingKeysWith: +)
                let repeated = counts.filter { $0.value > 1 }.keys.sorted().prefix(5)
                let missing = Set(expected).subtracting(lines).sorted().prefix(5)
                Issue.record("not every entry exactly once in order: repeated \(Array(repeated)), missing \(Array(missing))\(agent.allStandardError())", sourceLocation: sourceLocation)
            }
            let written = Dictionary(uniqueKeysWithValues: JournalExport.numbered(0..<(numbers.max() ?? 0) + 1, boot: boot, start: start).map { ($0.value("MESSAGE") ?? "", $0) })
            for event in events {
                guard let line = event["line"] as? String, let entry = written[line] else { continue }
                let fields = event["fields"] as? [String: String] ?? [:]
                #expect(event["source"] as? String == "journal", sourceLocation: sourceLocation)
                #expect(fields["journal.hostname"] == entry.value("_HOSTNAME"), "\(line): \(fields)", sourceLocation: sourceLocation)
                #expect(fields["journal.identifier"] == entry.value("SYSLOG_IDENTIFIER"), "\(line): \(fields)", sourceLocation: sourceLocation)
                #expect(fields["journal.priority"] == entry.value("PRIORITY"), "\(line): \(fields)", sourceLocation: sourceLocation)
                #expect(fields["journal.unit"] == entry.value("_SYSTEMD_UNIT"), "\(line): \(fields)", sourceLocation: sourceLocation)
                #expect(fields["journal.pid"] == entry.value("_PID"), "\(line): \(fields)", sourceLocation: sourceLocation)
                #expect(fields["journal.timestamp"] == Self.rfc3339(entry.realtime), "\(line): \(fields)", sourceLocation: sourceLocation)
            }
        }

        /// RFC 3339 with microseconds, UTC, computed independently of the agent's formatter.
        static func rfc3339(_ microseconds: UInt64) -> String {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
            let seconds = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(microseconds / 1_000_000)))
            return seconds + String(format: ".%06dZ", Int(microseconds % 1_000_000))
        }
    }

    @Test("3000 entries in 12 chunks, 4 agent SIGKILLs, the file rotated and the archive vacuumed: every entry exactly once, in order, with its fields")
    func killsRotationVacuum() async throws {
        var random = SeededGenerator.announced("journal kills")
        try await FerryScene.run("journal-kills") { scene in
            let setup = try await Setup(scene)
            try await setup.startAgent()
            let chunk = 250
            var kills = 0
            for index in 0..<12 {
                if index == 6 {
                    // Rotation as journald does it: the active file becomes an archive, a new active file starts.
                    #expect(rename(setup.journals + "/system.journal", setup.journals + "/system@0000000000000001-0000000000000001.journal") == 0)
                }
                if index == 9 {
                    // Vacuum the archive once everything in it was shipped (what it held unread would be gone).
                    let shipped = await waitUntil(timeout: .seconds(120)) { ReceivedOutput.lineCount(in: setup.out) >= 6 * chunk }
                    #expect(shipped, "the archive's entries were not shipped before the vacuum")
                    try FileManager.default.removeItem(atPath: setup.journals + "/system@0000000000000001-0000000000000001.journal")
                }
                try await setup.write((index * chunk)..<((index + 1) * chunk), to: "system.journal")
                if [2, 5, 8, 10].contains(index) {
                    // Mid-way through reading the chunk just written.
                    try await Task.sleep(for: .milliseconds(Int.random(in: 0...300, using: &random)))
                    await setup.agent.kill9()
                    kills += 1
                    try await setup.startAgent()
                }
            }
            let arrived = await setup.waitForEvents(12 * chunk)
            #expect(arrived, "received \(ReceivedOutput.lineCount(in: setup.out)) of \(12 * chunk)\(setup.agent.allStandardError())")
            setup.expectExactly(Array(0..<(12 * chunk)))
            #expect(kills == 4)
            #expect(await setup.agent.terminate() == .exited(0))
            #expect(await stopGracefully(setup.receiver.process) == .exited(0))
        }
    }

    @Test("a stored cursor whose file was vacuumed while the agent was down: a warning, counted, and the rest read once")
    func staleCursor() async throws {
        try await FerryScene.run("journal-stale") { scene in
            let metricsPort = try freeTCPPort()
            let setup = try await Setup(scene, extraArguments: ["--metrics-listen", "127.0.0.1:\(metricsPort)"])
            try await setup.write(0..<100, to: "a.journal")
            try await setup.startAgent()
            let first = await setup.waitForEvents(100)
            #expect(first)
            await setup.agent.kill9()
            // While the agent is down: the file holding its cursor is vacuumed, and new entries go to a new file.
            try FileManager.default.removeItem(atPath: setup.journals + "/a.journal")
            try await setup.write(100..<200, to: "b.journal")
            try await setup.startAgent()
            let rest = await setup.waitForEvents(200)
            #expect(rest, "received \(ReceivedOutput.lineCount(in: setup.out)) of 200\(setup.agent.allStandardError())")
            setup.expectExactly(Array(0..<200))
            #expect(setup.agent.occurrences(of: "is no longer in the journal directory") == 1, "\(setup.agent.lines(containing: "journal"))")
            let exposition = httpGet(port: metricsPort, path: "/metrics") ?? ""
            #expect(metricValue(exposition, "logferry_journal_cursor_missing_total") == 1)
            #expect((metricValue(exposition, "logferry_source_events_total") ?? 0) >= 100)
            // A clean restart after that resumes normally: no warning, nothing repeated.
            #expect(await setup.agent.terminate() == .exited(0))
            try await setup.write(200..<210, to: "b.journal")
            try await setup.startAgent()
            let last = await setup.waitForEvents(210)
            #expect(last)
            setup.expectExactly(Array(0..<210))
            #expect(setup.agent.occurrences(of: "is no longer in") == 0)
            #expect(await setup.agent.terminate() == .exited(0))
            #expect(await stopGracefully(setup.receiver.process) == .exited(0))
        }
    }

    @Test("config file keys journal-dir and journal-match: only the matching entries are shipped")
    func configFileMatches() async throws {
        try await FerryScene.run("journal-config") { scene in
            let journals = try scene.path("journal", create: true)
            let out = try scene.path("out", create: true)
            let receiver = try await ReceiverProcess.start(
                spool: try scene.path("receiver-spool"), out: out, format: "json",
                stderrPath: try scene.path("receiver.stderr"), children: scene.children
            )
            let config = try scene.path("agent.toml")
            try Data("""
                spool = "\(try scene.path("agent-spool"))"
                to = "127.0.0.1:\(receiver.port)"
                host-name = "\(Self.host)"
                journal-dir = "\(journals)"
                journal-match = ["SYSLOG_IDENTIFIER=app1", "SYSLOG_IDENTIFIER=app2"]
                linger-ms = 50
                """.utf8).write(to: URL(fileURLWithPath: config))
            try await JournalExport.write(
                JournalExport.numbered(0..<100, boot: JournalExport.randomBootID(), start: JournalExport.nowMicroseconds()),
                to: journals + "/a.journal", scratch: scene.directory.path, children: scene.children
            )
            let agent = scene.children.track(try LogFerryProcess(["run", "--config", config], stderrPath: try scene.path("agent.stderr")))
            _ = try await awaitAnnouncements(agent, prefixes: ["journal reading "], timeout: .seconds(60))
            let expected = (0..<100).filter { $0 % 5 == 1 || $0 % 5 == 2 }.map(JournalExport.message)
            let arrived = await waitUntil(timeout: .seconds(60)) { ReceivedOutput.lineCount(in: out) >= expected.count }
            try await Task.sleep(for: .seconds(1))
            #expect(arrived)
            let lines = (ReceivedOutput.jsonEvents(in: out)["\(Self.host)/journal.log"] ?? []).map { $0["line"] as? String ?? "" }
            #expect(lines == expected)
            #expect(await stopGracefully(agent) == .exited(0))
            #expect(await stopGracefully(receiver.process) == .exited(0))

            // A malformed match is a configuration error naming the key.
            try Data("""
                spool = "\(try scene.path("agent-spool-2"))"
                journal-dir = "\(journals)"
                journal-match = "unit=nginx"
                """.utf8).write(to: URL(fileURLWithPath: config))
            let check = try LogFerryProcess(["run", "--config", config, "--check"], stderrPath: try scene.path("check.stderr"))
            #expect(await check.wait() != .exited(0))
            #expect(check.standardError.contains("journal-match"), "\(check.standardError)")
        }
    }

    @Test("--journal opens the local journal (no journald needed); both journals at once, a match without a journal, a malformed match: refused, naming the flag")
    func localJournalAndFlagErrors() async throws {
        try await FerryScene.run("journal-local") { scene in
            let upstream = try freeTCPPort()
            let journals = try scene.path("journal", create: true)
            let agent = scene.children.track(try LogFerryProcess(
                ["agent", "--journal", "--spool", try scene.path("spool"), "--to", "127.0.0.1:\(upstream)"],
                stderrPath: try scene.path("agent.stderr")
            ))
            let announced = try await awaitAnnouncements(agent, prefixes: ["journal reading "], timeout: .seconds(60))
            #expect(announced["journal reading "] == "the local journal")
            #expect(await stopGracefully(agent) == .exited(0))
            let refused: [([String], String)] = [
                (["--journal", "--journal-dir", journals], "not both"),
                (["--file", "/dev/null", "--journal-match", "PRIORITY=3"], "journal-match"),
                (["--journal-dir", journals, "--journal-match", "priority=3"], "journal-match"),
            ]
            for (index, (arguments, phrase)) in refused.enumerated() {
                let bad = try LogFerryProcess(
                    ["agent"] + arguments + ["--spool", try scene.path("spool-\(index)"), "--to", "127.0.0.1:\(upstream)"],
                    stderrPath: try scene.path("bad-\(index).stderr")
                )
                #expect(await bad.wait() != .exited(0), "\(arguments) was accepted")
                #expect(bad.standardError.contains(phrase), "\(arguments): \(bad.standardError)")
            }
        }
    }

    @Test("--journal-from tail: the history is skipped, entries written after the start are shipped; the stored cursor wins on restart")
    func fromTail() async throws {
        try await FerryScene.run("journal-tail") { scene in
            let setup = try await Setup(scene, extraArguments: ["--journal-from", "tail"])
            try await setup.write(0..<50, to: "a.journal")
            try await setup.startAgent()
            try await setup.write(50..<60, to: "a.journal")
            let arrived = await setup.waitForEvents(10)
            #expect(arrived)
            setup.expectExactly(Array(50..<60))
            // Down while entries are written: with a stored cursor, the restart reads them (no tail any more).
            await setup.agent.kill9()
            try await setup.write(60..<70, to: "a.journal")
            try await setup.startAgent()
            let rest = await setup.waitForEvents(20)
            #expect(rest)
            setup.expectExactly(Array(50..<70))
            #expect(await setup.agent.terminate() == .exited(0))
            #expect(await stopGracefully(setup.receiver.process) == .exited(0))
        }
    }

    @Test("an agent running as nobody warns about journal files it cannot read, and ships those it can")
    func unreadableFilesWarned() async throws {
        guard geteuid() == 0 else { return }  // Needs root to drop to nobody with setpriv.
        try await FerryScene.run("journal-unreadable") { scene in
            let setup = try await Setup(scene)
            let spool = try scene.path("nobody-spool", create: true)
            #expect(chown(spool, 65534, 65534) == 0)
            #expect(chmod(setup.journals, 0o755) == 0)
            try await setup.write(0..<10, to: "secret.journal")  // 0640 root:root, as systemd-journal-remote makes it
            try await setup.write(10..<20, to: "open.journal")
            #expect(chmod(setup.journals + "/open.journal", 0o644) == 0)
            let agent = try ToolProcess("/usr/bin/setpriv", [
                "--reuid=65534", "--regid=65534", "--clear-groups", "--", LogFerryProcess.binaryPath,
                "agent", "--journal-dir", setup.journals, "--spool", spool, "--to", "127.0.0.1:\(setup.receiver.port)",
                "--host-name", Self.host, "--backoff-cap-ms", "1000", "--linger-ms", "50",
            ], outputPrefix: try scene.path("nobody-agent"), children: scene.children)
            let arrived = await setup.waitForEvents(10)
            #expect(arrived, "\(agent.standardError)")
            setup.expectExactly(Array(10..<20))
            let warning = agent.standardError.split(separator: "\n").filter { $0.contains("cannot be read by this user") }
            #expect(warning.count == 1, "\(agent.standardError)")
            #expect(warning.first?.contains("secret.journal") == true)
            #expect(warning.first?.contains("open.journal") == false)
            agent.signal(SIGTERM)
            #expect(await agent.wait(timeout: .seconds(60)) == 0)
            #expect(await stopGracefully(setup.receiver.process) == .exited(0))
        }
    }
}
