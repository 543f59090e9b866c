import Foundation
import LogFerryTestSupport
import Testing

/// The `nats-*` config keys and flags: bad values are errors naming the key, and a node with only `nats-in` as its
/// source, or only `nats-out` as its sink, is valid. (The examples in Docs/examples/ with these keys are checked
/// by ``ConfigFileTests``.)
@Suite("NATS config keys and flags (real processes)")
struct NATSConfigTests {
    static let mistakes: [ConfigFileTests.Mistake] = [
        .init(kind: "nats-format", text: """
            spool = "spool/relay"
            listen = "127.0.0.1:0"
            nats-out = "nats://127.0.0.1:4222"
            nats-format = "xml"
            """, key: "nats-format", line: 4, phrase: "batch or events"),
        .init(kind: "nats-replicas", text: """
            spool = "spool/relay"
            listen = "127.0.0.1:0"
            nats-out = "nats://127.0.0.1:4222"
            nats-replicas = 7
            """, key: "nats-replicas", line: 4, phrase: "1 to 5"),
        .init(kind: "nats-stream", text: """
            spool = "spool/relay"
            listen = "127.0.0.1:0"
            nats-out = "nats://127.0.0.1:4222"
            nats-stream = "logs.all"
            """, key: "nats-stream", line: 4, phrase: "without spaces"),
        .init(kind: "nats-subject", text: """
            spool = "spool/relay"
            listen = "127.0.0.1:0"
            nats-out = "nats://127.0.0.1:4222"
            nats-subject = "logs..{host}"
            """, key: "nats-subject", line: 4, phrase: "logs.{host}"),
        .init(kind: "nats-in empty", text: """
            spool = "spool/receiver"
            nats-in = []
            out = "received"
            """, key: "nats-in", line: 2, phrase: "nats://HOST:PORT"),
    ]

    @Test("bad nats-* values fail naming the file, the line and the key")
    func mistakes() async throws {
        let directory = try TemporaryDirectory("nats-config-errors")
        defer { directory.remove() }
        for (index, mistake) in Self.mistakes.enumerated() {
            let path = directory.file("mistake-\(index).toml")
            try Data(mistake.text.utf8).write(to: URL(fileURLWithPath: path))
            let result = try await ConfigFileTests.check(path, directory: directory)
            #expect(result.exit != .exited(0), "\(mistake.kind): exit \(result.exit)")
            let location = path + ":\(mistake.line ?? 0): \(mistake.key ?? ""):"
            #expect(result.stderr.contains(location), "\(mistake.kind): wanted '\(location) ...', got: \(result.stderr)")
            #expect(result.stderr.contains(mistake.phrase), "\(mistake.kind): wanted '\(mistake.phrase)' in: \(result.stderr)")
        }
    }

    @Test("receive needs --listen or --nats-in; relay needs --to or --nats-out; each is named")
    func commandsNameWhatIsMissing() async throws {
        let directory = try TemporaryDirectory("nats-flags")
        defer { directory.remove() }
        let receive = try await LogFerryProcess.run(
            ["receive", "--spool", directory.file("spool"), "--out", directory.file("out")],
            stderrPath: directory.file("receive.stderr"), timeout: .seconds(60))
        #expect(receive.exit != .exited(0))
        #expect(receive.standardError.contains("--listen (or --nats-in)"), "\(receive.standardError)")
        let relay = try await LogFerryProcess.run(
            ["relay", "--spool", directory.file("spool"), "--listen", "127.0.0.1:0"],
            stderrPath: directory.file("relay.stderr"), timeout: .seconds(60))
        #expect(relay.exit != .exited(0))
        #expect(relay.standardError.contains("--to (or --nats-out)"), "\(relay.standardError)")
        let badURL = try await LogFerryProcess.run(
            ["relay", "--spool", directory.file("spool"), "--listen", "127.0.0.1:0", "--nats-out", " , "],
            stderrPath: directory.file("bad.stderr"), timeout: .seconds(60))
        #expect(badURL.exit != .exited(0))
        #expect(badURL.standardError.contains("nats-out"), "\(badURL.standardError)")
    }
}
