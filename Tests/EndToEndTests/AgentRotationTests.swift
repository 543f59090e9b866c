import Foundation
import LogFerryTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Real `logrotate` against an agent tailing `app.log*`: copytruncate (whose copy is a new inode that starts with
/// the bytes already read), rename-and-create, compressed rotations, and a kill -9 of the agent in between.
/// Every line must arrive exactly once.
@Suite("Agent under logrotate (real processes)", .serialized)
struct AgentRotationTests {
    static let logrotate = ["/usr/sbin/logrotate", "/sbin/logrotate", "/usr/bin/logrotate"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// Lines `"app <n> payload-<n % 97>"`, newline-terminated.
    static func lines(_ range: Range<Int>) -> [UInt8] {
        var bytes: [UInt8] = []
        for number in range { bytes += Array("app \(number) payload-\(number % 97)\n".utf8) }
        return bytes
    }

    /// Writes a logrotate configuration for `log` with `directives` and returns its path.
    static func writeConfig(_ path: String, log: String, _ directives: [String]) throws -> String {
        let text = "\(log) {\n" + (directives + ["rotate 5", "missingok"]).map { "    \($0)\n" }.joined() + "}\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Runs `logrotate -f -s STATE CONF` and fails the test when it does not exit 0.
    static func rotate(_ config: String, state: String, scene: FerryScene, run: Int) async throws {
        let tool = try #require(logrotate, "logrotate is not installed (Debian package logrotate)")
        let result = try await ToolProcess.run(
            tool, ["-f", "-s", state, config], outputPrefix: scene.directory.file("logrotate-\(run)"), children: scene.children
        )
        #expect(result.status == 0, "logrotate \(config) failed: \(result.stderr)")
    }

    /// How often each number arrived, over every output file of `host` (the agent ships a rotated file's lines
    /// under its rotated name).
    static func counts(in out: String, host: String) -> [Int: Int] {
        var counts: [Int: Int] = [:]
        for (key, lines) in ReceivedOutput.rawLines(in: out) where key.hasPrefix(host + "/") {
            for line in lines {
                let parts = line.split(separator: 0x20, maxSplits: 2)
                guard parts.count >= 2, parts[0].elementsEqual("app".utf8),
                    let number = Int(String(decoding: parts[1], as: UTF8.self))
                else { continue }
                counts[number, default: 0] += 1
            }
        }
        return counts
    }

    /// A writer that appends `total` lines in chunks, opening the file for each chunk (so it follows a
    /// rename-and-create rotation at once), and reports how many lines it wrote.
    final class Writer: @unchecked Sendable {
        let path: String
        let total: Int
        let chunk: Int
        private let lock = NSLock()
        private var written = 0
        private var paused = false

        init(path: String, total: Int, chunk: Int = 40) {
            self.path = path
            self.total = total
            self.chunk = chunk
        }

        var progress: Int { lock.withLock { written } }
        func pause(_ value: Bool) { lock.withLock { paused = value } }

        func run() async throws {
            var next = 0
            while next < total {
                if lock.withLock({ paused }) {
                    try await Task.sleep(for: .milliseconds(2))
                    continue
                }
                let end = min(total, next + chunk)
                try appendToFile(path, AgentRotationTests.lines(next..<end))
                next = end
                lock.withLock { written = end }
                try await Task.sleep(for: .microseconds(1500))
            }
        }
    }

    /// Waits until every number in `0..<total` arrived, then a little longer so that doubles would show.
    static func settle(out: String, host: String, total: Int) async -> [Int: Int] {
        _ = await waitUntil(timeout: .seconds(60), interval: .milliseconds(250)) {
            counts(in: out, host: host).count >= total
        }
        try? await Task.sleep(for: .seconds(2))
        return counts(in: out, host: host)
    }

    /// The first and last numbers in each file of `directory`, for a failure message.
    static func fileRanges(_ directory: String) -> String {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
        return names.map { name in
            let bytes = FileManager.default.contents(atPath: directory + "/" + name).map(Array.init) ?? []
            let numbers = ReceivedOutput.splitLines(bytes).compactMap { line -> Int? in
                let parts = line.split(separator: 0x20, maxSplits: 2)
                return parts.count >= 2 ? Int(String(decoding: parts[1], as: UTF8.self)) : nil
            }
            return "\(name): \(numbers.first.map(String.init) ?? "-")...\(numbers.last.map(String.init) ?? "-") (\(bytes.count) bytes)"
        }.joined(separator: "; ")
    }

    static func report(_ counts: [Int: Int], total: Int) -> (missing: [Int], doubled: [Int]) {
        let missing = (0..<total).filter { counts[$0] == nil }
        let doubled = counts.filter { $0.value > 1 }.map(\.key).sorted()
        return (missing, doubled)
    }

    @Test("copytruncate twice and create twice under app.log*, with a kill -9 in between: 100,000 lines, each exactly once")
    func copytruncateAndCreate() async throws {
        guard Self.logrotate != nil else {
            Issue.record("logrotate is not installed (apt-get install logrotate)")
            return
        }
        try await FerryScene.run("rotation") { scene in
            let logs = try scene.path("logs", create: true)
            let log = logs + "/app.log"
            let out = scene.directory.file("out")
            let state = scene.directory.file("logrotate.state")
            let copytruncate = try Self.writeConfig(scene.directory.file("copytruncate.conf"), log: log, ["copytruncate", "nocompress"])
            let create = try Self.writeConfig(scene.directory.file("create.conf"), log: log, ["create", "nocompress"])
            let total = 100_000
            let host = "rotation-host"

            let receiver = try await ReceiverProcess.start(
                spool: scene.directory.file("receiver-spool"), out: out, stderrPath: scene.directory.file("receiver.stderr"),
                children: scene.children
            )
            let agent = RestartableNode(
                name: "agent",
                arguments: [
                    "--file", logs + "/app.log*", "--spool", scene.directory.file("agent-spool"),
                    "--to", "127.0.0.1:\(receiver.port)", "--host-name", host, "--backoff-cap-ms", "1000",
                ],
                logDirectory: scene.directory.path, children: scene.children
            )
            try appendToFile(log, Self.lines(0..<0))
            try agent.start()

            let writer = Writer(path: log, total: total)
            let writing = Task { try await writer.run() }
            func at(_ lines: Int) async {
                _ = await waitUntil(timeout: .seconds(60), interval: .milliseconds(5)) { writer.progress >= lines }
            }
            // The writer pauses while logrotate runs: a line written between the end of the copy and the truncation
            // is in neither file, which no tailer can help (it is read only when the agent happened to read the live
            // file in that moment). Lines written before the copy and not read yet are only in the copy: the agent
            // is stopped for a while before the first copytruncate, and killed before the second, so that there are.
            func rotate(_ config: String, run: Int) async throws {
                writer.pause(true)
                try await Task.sleep(for: .milliseconds(20))
                try await Self.rotate(config, state: state, scene: scene, run: run)
                writer.pause(false)
            }
            await at(18_000)
            agent.process?.signal(SIGSTOP)
            await at(20_000)
            try await rotate(copytruncate, run: 1)
            agent.process?.signal(SIGCONT)
            await at(35_000)
            try await rotate(create, run: 2)
            // kill -9 of the agent; the second copytruncate happens while it is down
            await at(50_000)
            await agent.kill9()
            await at(60_000)
            try await rotate(copytruncate, run: 3)
            await at(65_000)
            try agent.start()
            await at(80_000)
            try await rotate(create, run: 4)
            try await writing.value

            let counts = await Self.settle(out: out, host: host, total: total)
            let (missing, doubled) = Self.report(counts, total: total)
            let rotated = (try? FileManager.default.contentsOfDirectory(atPath: logs).sorted()) ?? []
            print("copytruncate+create: \(counts.count) of \(total) distinct lines, \(missing.count) missing, \(doubled.count) doubled; files: \(Self.fileRanges(logs))")
            #expect(missing.isEmpty, "\(missing.count) lines missing, first \(missing.prefix(10)); agent:\n\(agent.allStandardError())")
            #expect(doubled.isEmpty, "\(doubled.count) lines doubled, first \(doubled.prefix(10)); agent:\n\(agent.allStandardError())")
            #expect(rotated.contains("app.log.4"), "logrotate did not rotate four times: \(rotated)")
            #expect(await agent.terminate() == .exited(0))
            #expect(await stopGracefully(receiver.process) == .exited(0))
        }
    }

    @Test("copytruncate with compress: the .gz rotations are skipped and counted, every line exactly once")
    func compressedRotations() async throws {
        guard Self.logrotate != nil else {
            Issue.record("logrotate is not installed (apt-get install logrotate)")
            return
        }
        try await FerryScene.run("rotation-gz") { scene in
            let logs = try scene.path("logs", create: true)
            let log = logs + "/app.log"
            let out = scene.directory.file("out")
            let state = scene.directory.file("logrotate.state")
            let config = try Self.writeConfig(scene.directory.file("compress.conf"), log: log, ["copytruncate", "compress"])
            let total = 30_000
            let host = "rotation-gz-host"

            let receiver = try await ReceiverProcess.start(
                spool: scene.directory.file("receiver-spool"), out: out, stderrPath: scene.directory.file("receiver.stderr"),
                children: scene.children
            )
            let agent = try startAgent(
                ["--file", logs + "/app.log*"], spool: scene.directory.file("agent-spool"), port: receiver.port, host: host,
                stderrPath: scene.directory.file("agent.stderr"), children: scene.children
            )
            try appendToFile(log, Self.lines(0..<0))
            let writer = Writer(path: log, total: total)
            let writing = Task { try await writer.run() }
            for (run, lines) in [10_000, 20_000].enumerated() {
                _ = await waitUntil(timeout: .seconds(60), interval: .milliseconds(5)) { writer.progress >= lines }
                // Paused while logrotate runs (see copytruncateAndCreate). With `compress` the uncompressed copy
                // lives only until gzip replaces it, so lines the agent had not read when the copy was made are
                // lost unless it catches the copy in that moment: use `delaycompress` with copytruncate.
                writer.pause(true)
                try await Task.sleep(for: .milliseconds(100))
                try await Self.rotate(config, state: state, scene: scene, run: run + 1)
                writer.pause(false)
            }
            try await writing.value

            let counts = await Self.settle(out: out, host: host, total: total)
            let (missing, doubled) = Self.report(counts, total: total)
            let rotated = (try? FileManager.default.contentsOfDirectory(atPath: logs).sorted()) ?? []
            print("copytruncate+compress: \(counts.count) of \(total) distinct lines, \(missing.count) missing, \(doubled.count) doubled; files: \(Self.fileRanges(logs))")
            #expect(rotated.contains("app.log.1.gz") && rotated.contains("app.log.2.gz"), "no compressed rotations: \(rotated)")
            #expect(missing.isEmpty, "\(missing.count) lines missing, first \(missing.prefix(10)); agent:\n\(agent.standardError.suffix(3000))")
            #expect(doubled.isEmpty, "\(doubled.count) lines doubled, first \(doubled.prefix(10)); agent:\n\(agent.standardError.suffix(3000))")
            // Nothing of the compressed files reached the receiver, and each was reported once.
            let outputs = ReceivedOutput.rawLines(in: out).keys.filter { $0.hasPrefix(host + "/") }
            #expect(!outputs.contains { $0.hasSuffix(".gz") || $0.hasSuffix(".gz.log") }, "compressed files were shipped: \(outputs.sorted())")
            let skipped = agent.standardError.split(separator: "\n").filter { $0.contains("skipping compressed file") }
            #expect(skipped.count == 2, "expected one line per compressed file: \(skipped)")
            #expect(await stopGracefully(agent) == .exited(0))
            #expect(await stopGracefully(receiver.process) == .exited(0))
        }
    }
}
