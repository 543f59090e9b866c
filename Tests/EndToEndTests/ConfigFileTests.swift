import Foundation
import LogFerryTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `logferry run --config`: every example in Docs/examples/ checks out, every kind of mistake is an error naming the
/// file, the line and the key, and a receiver and an agent started from config files ship lines end to end.
@Suite("Config files (real processes)")
struct ConfigFileTests {
    /// Runs `logferry run --config <file> --check`; exit, standard output and standard error.
    static func check(_ path: String, directory: TemporaryDirectory) async throws -> (exit: LogFerryProcess.Exit, stdout: String, stderr: String) {
        let stderrPath = directory.file("check-\(UUID().uuidString).stderr")
        let run = try await LogFerryProcess.run(["run", "--config", path, "--check"], stderrPath: stderrPath, timeout: .seconds(60))
        return (run.exit, run.output, run.standardError)
    }

    @Test("every file in Docs/examples/ passes --check")
    func examples() async throws {
        let directory = try TemporaryDirectory("config-examples")
        defer { directory.remove() }
        let examples = packageRoot() + "/Docs/examples"
        let names = try FileManager.default.contentsOfDirectory(atPath: examples).filter { $0.hasSuffix(".toml") }.sorted()
        #expect(names.count >= 3, "expected an agent, a relay and a receiver example in \(examples): \(names)")
        for name in names {
            let path = examples + "/" + name
            let result = try await Self.check(path, directory: directory)
            #expect(result.exit == .exited(0), "\(name): \(result.stderr)")
            #expect(result.stdout.contains("\(path): ok"), "\(name): \(result.stdout)")
        }
    }

    /// A broken config, the key and line its error must name (line nil: a missing key has no line), and a phrase.
    struct Mistake {
        var kind: String
        var text: String
        var key: String?
        var line: Int?
        var phrase: String
    }

    static let mistakes: [Mistake] = [
        Mistake(kind: "unknown key", text: """
            # a relay
            spool = "spool/relay"
            listen = "127.0.0.1:0"
            lisen = "127.0.0.1:7514"
            """, key: "lisen", line: 4, phrase: "unknown key (did you mean 'listen'?)"),
        Mistake(kind: "unknown quoted key", text: """
            spool = "spool/relay"
            "listen" = "127.0.0.1:0"

            "bogus-key" = 1
            """, key: "bogus-key", line: 4, phrase: "unknown key"),
        Mistake(kind: "wrong type (string for integer)", text: """
            spool = "spool/relay"
            listen = "127.0.0.1:0"
            window = "sixteen"
            """, key: "window", line: 3, phrase: "expected an integer"),
        Mistake(kind: "wrong type (integer for list)", text: """
            spool = "spool/agent"
            to = "127.0.0.1:7514"
            file = 5
            """, key: "file", line: 3, phrase: "expected a string or a list of strings"),
        Mistake(kind: "wrong type (string for bool)", text: """
            spool = "spool/agent"
            to = "127.0.0.1:7514"
            stdin = "yes"
            """, key: "stdin", line: 3, phrase: "expected true or false"),
        Mistake(kind: "wrong element type", text: """
            spool = "spool/agent"
            file = ["/var/log/a.log", 7]
            to = "127.0.0.1:7514"
            """, key: "file", line: 2, phrase: "expected a list of strings"),
        Mistake(kind: "invalid value (fsync)", text: """
            spool = "spool/relay"
            listen = "127.0.0.1:0"
            fsync = "sometimes"
            """, key: "fsync", line: 3, phrase: "sometimes"),
        Mistake(kind: "invalid value (address)", text: """
            spool = "spool/relay"
            listen = "no-port-here"
            """, key: "listen", line: 2, phrase: "no-port-here"),
        Mistake(kind: "invalid value (compression level)", text: """
            spool = "spool/agent"
            stdin = true
            to = "127.0.0.1:7514"
            compression-level = 12
            """, key: "compression-level", line: 4, phrase: "0 to 9"),
        Mistake(kind: "invalid value (compressor)", text: """
            spool = "spool/agent"
            stdin = true
            to = "127.0.0.1:7514"
            compressor = "gzip"
            """, key: "compressor", line: 4, phrase: "expected isal, libdeflate or zlib"),
        Mistake(kind: "invalid value (format)", text: """
            spool = "spool/receiver"
            listen = "127.0.0.1:0"
            out = "received"
            format = "xml"
            """, key: "format", line: 4, phrase: "xml"),
        Mistake(kind: "missing spool", text: """
            listen = "127.0.0.1:0"
            out = "received"
            """, key: "spool", line: nil, phrase: "missing"),
        Mistake(kind: "missing source", text: """
            spool = "spool/agent"
            to = "127.0.0.1:7514"
            """, key: "listen", line: nil, phrase: "needs a source"),
    ]

    @Test("each kind of config error fails and names the file, the line and the key")
    func mistakes() async throws {
        let directory = try TemporaryDirectory("config-errors")
        defer { directory.remove() }
        for (index, mistake) in Self.mistakes.enumerated() {
            let path = directory.file("mistake-\(index).toml")
            try Data(mistake.text.utf8).write(to: URL(fileURLWithPath: path))
            let result = try await Self.check(path, directory: directory)
            #expect(result.exit == .exited(1) || result.exit == .exited(64), "\(mistake.kind): exit \(result.exit)")
            #expect(!result.stdout.contains("ok"), "\(mistake.kind): \(result.stdout)")
            var location = path
            if let line = mistake.line { location += ":\(line)" }
            if let key = mistake.key { location += ": \(key):" }
            #expect(result.stderr.contains("Error: \(location)"), "\(mistake.kind): wanted 'Error: \(location) ...', got: \(result.stderr)")
            #expect(result.stderr.contains(mistake.phrase), "\(mistake.kind): wanted '\(mistake.phrase)' in: \(result.stderr)")
        }
    }

    @Test("invalid TOML and a missing file fail with the file (and the line) named")
    func unreadableConfigs() async throws {
        let directory = try TemporaryDirectory("config-toml")
        defer { directory.remove() }
        let path = directory.file("broken.toml")
        try Data("spool = \"spool/relay\"\nlisten = \"127.0.0.1:0\"\nwindow = = 3\n".utf8).write(to: URL(fileURLWithPath: path))
        let broken = try await Self.check(path, directory: directory)
        #expect(broken.exit != .exited(0))
        #expect(broken.stderr.contains("Error: \(path):3: not valid TOML"), "\(broken.stderr)")

        let unclosed = directory.file("unclosed.toml")
        try Data("spool = \"spool/relay\"\nlisten = \"127.0.0.1:0\nto = \"x:1\"\n".utf8).write(to: URL(fileURLWithPath: unclosed))
        let unclosedResult = try await Self.check(unclosed, directory: directory)
        #expect(unclosedResult.exit != .exited(0))
        #expect(unclosedResult.stderr.contains("Error: \(unclosed):2: not valid TOML"), "\(unclosedResult.stderr)")

        let missing = directory.file("no-such.toml")
        let absent = try await Self.check(missing, directory: directory)
        #expect(absent.exit != .exited(0))
        #expect(absent.stderr.contains(missing), "\(absent.stderr)")
    }

    @Test("a receiver and an agent run from config files ship lines end to end and stop gracefully")
    func runPair() async throws {
        try await FerryScene.run("config-run") { scene in
            let (directory, children) = (scene.directory, scene.children)
            let logs = try scene.path("logs", create: true)
            let receiverConfig = directory.file("receiver.toml")
            try Data("""
                # written by the test
                spool = "\(directory.file("receiver-spool"))"
                listen = "127.0.0.1:0"
                out = "\(directory.file("out"))"
                format = "json"
                """.utf8).write(to: URL(fileURLWithPath: receiverConfig))
            let receiver = children.track(try LogFerryProcess(["run", "--config", receiverConfig], stderrPath: directory.file("receiver.stderr")))
            let listening = try await awaitAnnouncements(receiver, prefixes: ["listening on "], timeout: .seconds(60))
            let port = try #require(listening["listening on "].flatMap(portOf))

            let agentConfig = directory.file("agent.toml")
            try Data("""
                spool = "\(directory.file("agent-spool"))"
                file = ["\(logs)/*.log"]
                to = ["127.0.0.1:\(port)"]
                host-name = "config-agent"
                linger-ms = 50
                batch-events = 500
                backoff-cap-ms = 1000
                """.utf8).write(to: URL(fileURLWithPath: agentConfig))
            #expect(try await Self.check(agentConfig, directory: directory).exit == .exited(0))
            let agent = children.track(try LogFerryProcess(["run", "--config", agentConfig], stderrPath: directory.file("agent.stderr")))

            let lines = (0..<5000).map { "config line \($0)" }
            try appendToFile(logs + "/app.log", Array((lines.prefix(2500).joined(separator: "\n") + "\n").utf8))
            try await Task.sleep(for: .milliseconds(300))
            try appendToFile(logs + "/app.log", Array((lines.dropFirst(2500).joined(separator: "\n") + "\n").utf8))

            let out = directory.file("out")
            let arrived = await waitUntil(timeout: .seconds(60)) { ReceivedOutput.lineCount(in: out) >= lines.count }
            #expect(arrived, "received \(ReceivedOutput.lineCount(in: out)); agent stderr:\n\(agent.standardError.suffix(3000))")
            try await Task.sleep(for: .milliseconds(300))
            let events = ReceivedOutput.jsonEvents(in: out)
            #expect(events.count == 1)
            let received = events.values.flatMap { $0 }
            #expect(received.compactMap { $0["line"] as? String } == lines)
            #expect(received.allSatisfy { $0["host"] as? String == "config-agent" })
            #expect(received.allSatisfy { $0["source"] as? String == logs + "/app.log" })

            #expect(await stopGracefully(agent) == .exited(0))
            #expect(await stopGracefully(receiver) == .exited(0))
        }
    }
}
