import Foundation
import LogFerryTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The file source's hard cases with real processes: files deleted under the agent, an unreadable file, a thousand
/// files, a 10 MiB line, binary junk. Each test runs its own receiver and agent on 127.0.0.1.
@Suite("Agent file edge cases (real processes)", .serialized)
struct AgentFileTests {
    /// `count` lines `"<tag> <n> <payload>"`, newline-terminated; with `hex`, the payload is pseudo-random hex that
    /// compresses poorly (to fill a spool quickly).
    static func numberedLines(_ tag: String, _ range: Range<Int>, hex: Bool = false) -> [UInt8] {
        var bytes: [UInt8] = []
        var random = SeededGenerator(seed: tag.utf8.reduce(14_695_981_039_346_656_037) { ($0 ^ UInt64($1)) &* 1_099_511_628_211 })
        for number in range {
            bytes += Array("\(tag) \(number) ".utf8)
            if hex {
                for _ in 0..<6 { bytes += Array(String(random.next(), radix: 16).utf8) }
            } else {
                bytes += Array("payload-\(number % 97)".utf8)
            }
            bytes.append(0x0A)
        }
        return bytes
    }

    /// The number in `"<tag> <n> ..."`, when the line has that tag.
    static func number(_ line: [UInt8], tag: String) -> Int? {
        let parts = line.split(separator: 0x20, maxSplits: 2)
        guard parts.count >= 2, String(decoding: parts[0], as: UTF8.self) == tag else { return nil }
        return Int(String(decoding: parts[1], as: UTF8.self))
    }

    @Test("files deleted while the agent has them open are read to their end and closed: nothing lost, nothing doubled")
    func deletedFiles() async throws {
        try await FerryScene.run("deleted") { scene in
            let (directory, children) = (scene.directory, scene.children)
            let logs = try scene.path("logs", create: true)
            let out = directory.file("out")
            let names = ["one.log", "two.log", "three.log"]
            let perFile = 60_000
            for name in names {
                try appendToFile(logs + "/" + name, Self.numberedLines(name, 0..<perFile, hex: true))
            }
            let receiver = try await ReceiverProcess.start(
                spool: directory.file("receiver-spool"), out: out, stderrPath: directory.file("receiver.stderr"), children: children
            )
            let agent = try startAgent(
                ["--file", logs + "/*.log"], spool: directory.file("agent-spool"), port: receiver.port, host: "deleted-host",
                stderrPath: directory.file("agent.stderr"), children: children
            )
            // As soon as the agent holds every file open, freeze it (SIGSTOP), delete the files, and let it go on: it
            // is then somewhere in the middle of them and must read each to its end from its open descriptor.
            let paths = Set(names.map { logs + "/" + $0 })
            let allOpen = await waitUntil(timeout: .seconds(60), interval: .milliseconds(5)) { paths.isSubset(of: openFiles(of: agent.pid)) }
            agent.signal(SIGSTOP)
            #expect(allOpen, "the agent did not open every file: \(openFiles(of: agent.pid))")
            let receivedBefore = ReceivedOutput.lineCount(in: out)
            for path in paths { #expect(unlink(path) == 0) }
            agent.signal(SIGCONT)
            print("deleted files: \(receivedBefore) of \(names.count * perFile) lines had arrived when the files were deleted")

            let expected = names.count * perFile
            let complete = await waitUntil(timeout: .seconds(180)) { ReceivedOutput.lineCount(in: out) >= expected }
            #expect(complete, "received \(ReceivedOutput.lineCount(in: out)) of \(expected) lines; agent stderr:\n\(agent.standardError.suffix(3000))")
            try await Task.sleep(for: .milliseconds(500))

            let outputs = ReceivedOutput.rawLines(in: out)
            for name in names {
                let lines = outputLines(outputs, host: "deleted-host", file: name) ?? []
                let numbers = lines.compactMap { Self.number($0, tag: name) }
                #expect(numbers == Array(0..<perFile), "\(name): \(numbers.count) lines, first wrong at \(String(describing: zip(numbers, 0...).first { $0 != $1 }))")
                let reference = ReceivedOutput.splitLines(Self.numberedLines(name, 0..<perFile, hex: true))
                #expect(lines == reference, "\(name): line contents differ")
            }
            // Read to their end, the deleted files were closed: the agent holds none of them any more.
            let released = await waitUntil(timeout: .seconds(10)) { openFiles(of: agent.pid).allSatisfy { !$0.hasPrefix(logs) } }
            #expect(released, "descriptors still open: \(openFiles(of: agent.pid).filter { $0.hasPrefix(logs) })")
            #expect(await stopGracefully(agent) == .exited(0))
            #expect(await stopGracefully(receiver.process) == .exited(0))
        }
    }

    @Test("an unreadable file is reported clearly and shipped once it becomes readable")
    func unreadableFile() async throws {
        try await FerryScene.run("unreadable") { scene in
            let (directory, children) = (scene.directory, scene.children)
            let logs = directory.file("logs")
            let out = directory.file("out")
            let spool = directory.file("agent-spool")
            for path in [logs, spool] { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
            try appendToFile(logs + "/open.log", Self.numberedLines("open", 0..<100))
            try appendToFile(logs + "/locked.log", Self.numberedLines("locked", 0..<100))
            #expect(chmod(logs + "/locked.log", 0o000) == 0)

            let receiver = try await ReceiverProcess.start(
                spool: directory.file("receiver-spool"), out: out, stderrPath: directory.file("receiver.stderr"), children: children
            )
            // Root reads any file whatever its mode (CAP_DAC_OVERRIDE), so as root the agent runs as `nobody` through
            // util-linux setpriv; then mode 000 really keeps it out. The spool must belong to that user.
            let agentArguments = [
                "agent", "--file", logs + "/*.log", "--spool", spool, "--to", "127.0.0.1:\(receiver.port)",
                "--host-name", "unreadable-host", "--backoff-cap-ms", "1000",
            ]
            let agent: ToolProcess
            if geteuid() == 0 {
                #expect(chown(spool, 65534, 65534) == 0)
                agent = try ToolProcess(
                    "/usr/bin/setpriv",
                    ["--reuid=65534", "--regid=65534", "--clear-groups", "--", LogFerryProcess.binaryPath] + agentArguments,
                    outputPrefix: directory.file("agent"), children: children
                )
            } else {
                agent = try ToolProcess(LogFerryProcess.binaryPath, agentArguments, outputPrefix: directory.file("agent"), children: children)
            }

            // What the agent says, independent of shipping: the file is reported once, then found readable again.
            let reported = await waitUntil(timeout: .seconds(30)) {
                agent.standardError.contains("cannot open log file") && agent.standardError.contains("locked.log")
            }
            #expect(reported, "no clear report of the unreadable file; stderr:\n\(agent.standardError.suffix(3000))")
            try await Task.sleep(for: .seconds(2))
            #expect(agent.standardError.components(separatedBy: "cannot open log file").count - 1 == 1, "reported more than once")
            #expect(outputLines(ReceivedOutput.rawLines(in: out), host: "unreadable-host", file: "locked.log") == nil)
            #expect(chmod(logs + "/locked.log", 0o644) == 0)
            let retried = await waitUntil(timeout: .seconds(30)) { agent.standardError.contains("readable again") }
            #expect(retried, "the file was not retried; stderr:\n\(agent.standardError.suffix(3000))")

            // And everything ships. (As `nobody` this needs an agent that can connect without privileges; see
            // AgentPrivilegeTests for that on its own.)
            let arrived = await waitUntil(timeout: .seconds(30)) { ReceivedOutput.lineCount(in: out) >= 200 }
            #expect(arrived, "received \(ReceivedOutput.lineCount(in: out)) of 200 lines; agent stderr:\n\(agent.standardError.suffix(1500))")
            try await Task.sleep(for: .milliseconds(500))
            let outputs = ReceivedOutput.rawLines(in: out)
            #expect(outputLines(outputs, host: "unreadable-host", file: "open.log")?.compactMap { Self.number($0, tag: "open") } == Array(0..<100))
            #expect(outputLines(outputs, host: "unreadable-host", file: "locked.log")?.compactMap { Self.number($0, tag: "locked") } == Array(0..<100))

            agent.signal(SIGTERM)
            #expect(await agent.wait(timeout: .seconds(60)) == 0)
            #expect(await stopGracefully(receiver.process) == .exited(0))
        }
    }

    @Test("1,000 files: 500 there at start, 500 appearing later, all appended to again; every line once, in order")
    func thousandFiles() async throws {
        try await FerryScene.run("many") { scene in
            let (directory, children) = (scene.directory, scene.children)
            let logs = try scene.path("many", create: true)
            let out = directory.file("out")
            let fileCount = 1000
            let perRound = 20
            func name(_ index: Int) -> String { "f\(1000 + index).log" }
            for index in 0..<fileCount / 2 {
                try appendToFile(logs + "/" + name(index), Self.numberedLines(name(index), 0..<perRound))
            }
            let receiver = try await ReceiverProcess.start(
                spool: directory.file("receiver-spool"), out: out, stderrPath: directory.file("receiver.stderr"), children: children
            )
            let agent = try startAgent(
                ["--file", logs + "/*.log"], spool: directory.file("agent-spool"), port: receiver.port, host: "many-host",
                stderrPath: directory.file("agent.stderr"), children: children
            )
            let firstHalf = await waitUntil(timeout: .seconds(120)) { ReceivedOutput.lineCount(in: out) >= fileCount / 2 * perRound }
            #expect(firstHalf, "agent stderr:\n\(agent.standardError.suffix(3000))")
            for index in fileCount / 2..<fileCount {
                try appendToFile(logs + "/" + name(index), Self.numberedLines(name(index), 0..<perRound))
            }
            let secondHalf = await waitUntil(timeout: .seconds(120)) { ReceivedOutput.lineCount(in: out) >= fileCount * perRound }
            #expect(secondHalf, "agent stderr:\n\(agent.standardError.suffix(3000))")
            for index in 0..<fileCount {
                try appendToFile(logs + "/" + name(index), Self.numberedLines(name(index), perRound..<2 * perRound))
            }
            let total = fileCount * perRound * 2
            let all = await waitUntil(timeout: .seconds(180)) { ReceivedOutput.lineCount(in: out) >= total }
            #expect(all, "received \(ReceivedOutput.lineCount(in: out)) of \(total); agent stderr:\n\(agent.standardError.suffix(3000))")
            try await Task.sleep(for: .milliseconds(500))

            let outputs = ReceivedOutput.rawLines(in: out)
            #expect(outputs.count == fileCount)
            var wrong: [String] = []
            for index in 0..<fileCount {
                let numbers = (outputLines(outputs, host: "many-host", file: name(index)) ?? []).compactMap { Self.number($0, tag: name(index)) }
                if numbers != Array(0..<2 * perRound) { wrong.append("\(name(index)): \(numbers)") }
            }
            #expect(wrong.isEmpty, "\(wrong.count) files wrong, e.g. \(wrong.prefix(3))")
            #expect(await stopGracefully(agent) == .exited(0))
            #expect(await stopGracefully(receiver.process) == .exited(0))
        }
    }

    @Test("a 10 MiB line is cut at --max-line-bytes, counted, and the lines around it arrive intact")
    func tenMebibyteLine() async throws {
        try await FerryScene.run("longline") { scene in
            let (directory, children) = (scene.directory, scene.children)
            let logs = try scene.path("logs", create: true)
            let out = directory.file("out")
            let maxLine = 65_536
            var big = Array("BIG ".utf8)
            for index in 0..<(10 << 20) { big.append(UInt8(ascii: "a") + UInt8(index % 26)) }

            let receiver = try await ReceiverProcess.start(
                spool: directory.file("receiver-spool"), out: out, stderrPath: directory.file("receiver.stderr"), children: children
            )
            let metricsPort = try freeTCPPort()
            let agent = try startAgent(
                ["--file", logs + "/*.log", "--max-line-bytes", "\(maxLine)", "--metrics-listen", "127.0.0.1:\(metricsPort)"],
                spool: directory.file("agent-spool"), port: receiver.port, host: "long-host",
                stderrPath: directory.file("agent.stderr"), children: children
            )
            let path = logs + "/app.log"
            try appendToFile(path, Self.numberedLines("before", 0..<100))
            // The long line arrives in pieces, as a slow writer would produce it.
            for start in stride(from: 0, to: big.count, by: 3 << 20) {
                try appendToFile(path, Array(big[start..<min(big.count, start + (3 << 20))]))
                try await Task.sleep(for: .milliseconds(100))
            }
            try appendToFile(path, [0x0A] + Self.numberedLines("after", 0..<100))

            let arrived = await waitUntil(timeout: .seconds(120)) { ReceivedOutput.lineCount(in: out) >= 201 }
            #expect(arrived, "agent stderr:\n\(agent.standardError.suffix(3000))")
            try await Task.sleep(for: .milliseconds(500))
            let lines = outputLines(ReceivedOutput.rawLines(in: out), host: "long-host", file: "app.log") ?? []
            #expect(lines.count == 201)
            if lines.count == 201 {
                #expect(lines[0..<100].map { Self.number($0, tag: "before") } == (0..<100).map { $0 })
                #expect(lines[100] == Array(big.prefix(maxLine)), "the long line is \(lines[100].count) bytes")
                #expect(lines[101...].map { Self.number($0, tag: "after") } == (0..<100).map { $0 })
            }
            let metrics = await waitUntil(timeout: .seconds(10)) { httpGet(port: metricsPort, path: "/metrics") != nil }
            #expect(metrics, "no metrics endpoint on \(metricsPort)")
            let exposition = httpGet(port: metricsPort, path: "/metrics") ?? ""
            #expect(metricValue(exposition, "logferry_file_lines_truncated_total") == 1, "\(exposition.split(separator: "\n").filter { $0.contains("truncated") })")

            #expect(await stopGracefully(agent) == .exited(0))
            #expect(await stopGracefully(receiver.process) == .exited(0))
        }
    }

    @Test("binary junk lines (every byte but newline, invalid UTF-8, NUL, backslashes) arrive byte for byte")
    func binaryJunk() async throws {
        var random = SeededGenerator.announced("binary junk")
        try await FerryScene.run("junk") { scene in
            let (directory, children) = (scene.directory, scene.children)
            let logs = try scene.path("logs", create: true)
            let out = directory.file("out")
            var expected: [[UInt8]] = []
            var bytes: [UInt8] = []
            for _ in 0..<3000 {
                var line = (0..<Int.random(in: 0...400, using: &random)).map { _ in
                    var byte = UInt8.random(in: 0...255, using: &random)
                    while byte == 0x0A { byte = UInt8.random(in: 0...255, using: &random) }
                    return byte
                }
                // A carriage return just before the newline is part of a CRLF line ending and is dropped by design.
                while line.last == 0x0D { line.removeLast() }
                expected.append(line)
                bytes += line
                bytes.append(0x0A)
            }
            try appendToFile(logs + "/junk.log", bytes)

            let receiver = try await ReceiverProcess.start(
                spool: directory.file("receiver-spool"), out: out, stderrPath: directory.file("receiver.stderr"), children: children
            )
            let agent = try startAgent(
                ["--file", logs + "/junk.log"], spool: directory.file("agent-spool"), port: receiver.port, host: "junk-host",
                stderrPath: directory.file("agent.stderr"), children: children
            )
            let arrived = await waitUntil(timeout: .seconds(60)) { ReceivedOutput.lineCount(in: out) >= expected.count }
            #expect(arrived, "agent stderr:\n\(agent.standardError.suffix(3000))")
            try await Task.sleep(for: .milliseconds(500))
            let lines = outputLines(ReceivedOutput.rawLines(in: out), host: "junk-host", file: "junk.log") ?? []
            #expect(lines.count == expected.count)
            let firstDifference = zip(lines, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            #expect(firstDifference == nil, "line \(String(describing: firstDifference)) differs")

            #expect(await stopGracefully(agent) == .exited(0))
            #expect(await stopGracefully(receiver.process) == .exited(0))
        }
    }
}
