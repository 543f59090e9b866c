import Foundation
import LogFerryTestSupport
import LogFerryWire
import Testing

/// Faults an operator meets that used to lose lines or let one peer hurt everyone else: a spool copied with a
/// disk image, and peers that try to pin the receiver's memory or take all its sessions.
@Suite("Faults: cloned spools, memory a peer could pin, session caps (real processes)", .serialized)
struct FerryFaultTests {
    /// Every line of `path` as written by `write(lines:to:tag:)`.
    static func line(_ index: Int, tag: String) -> String { "\(tag) line \(index)" }

    static func write(lines range: Range<Int>, to path: String, tag: String) throws {
        try appendToFile(path, Array(range.map { line($0, tag: tag) + "\n" }.joined().utf8))
    }

    /// How often each expected line of `tag` appears in the output of `host`.
    static func counts(in out: String, host: String, tag: String) -> [String: Int] {
        var counts: [String: Int] = [:]
        for (relative, lines) in ReceivedOutput.rawLines(in: out) where relative.hasPrefix(host + "/") {
            for line in lines {
                let text = String(decoding: line, as: UTF8.self)
                if text.hasPrefix(tag + " ") { counts[text, default: 0] += 1 }
            }
        }
        return counts
    }

    @Test("a spool copied for a second agent: it takes a new spool id, reads only its own file, and no line of either agent is lost or doubled")
    func clonedSpool() async throws {
        try await FerryScene.run("fault-cloned-spool") { scene in
            let out = try scene.path("out", create: true)
            let receiver = try await scene.node("receiver", ["receive", "--spool", try scene.path("spool-receiver"), "--out", out])
            let file1 = try scene.path("one.log")
            let file2 = try scene.path("two.log")
            let spool1 = try scene.path("spool-one")
            let spool2 = try scene.path("spool-two")
            try Self.write(lines: 0..<2_000, to: file1, tag: "one")
            let first = try startAgent(["--file", file1], spool: spool1, port: receiver.port, host: "agent-one",
                                       stderrPath: try scene.path("agent-one-1.log"), children: scene.children)
            try await waitUntil("agent one's first 2,000 lines", deadline: .seconds(60)) {
                Self.counts(in: out, host: "agent-one", tag: "one").count >= 2_000
            }
            #expect(await stopGracefully(first) == .exited(0))

            // The disk image: agent two starts from a copy of agent one's spool, with its own file and name.
            try FileManager.default.copyItem(atPath: spool1, toPath: spool2)
            try Self.write(lines: 2_000..<4_000, to: file1, tag: "one")
            try Self.write(lines: 0..<2_000, to: file2, tag: "two")
            let secondLog = try scene.path("agent-two.log")
            let one = try startAgent(["--file", file1], spool: spool1, port: receiver.port, host: "agent-one",
                                     stderrPath: try scene.path("agent-one-2.log"), children: scene.children)
            let two = try startAgent(["--file", file2], spool: spool2, port: receiver.port, host: "agent-two",
                                     stderrPath: secondLog, children: scene.children)
            try await waitUntil("both agents' lines", deadline: .seconds(60)) {
                Self.counts(in: out, host: "agent-one", tag: "one").count >= 4_000
                    && Self.counts(in: out, host: "agent-two", tag: "two").count >= 2_000
            }
            try await Task.sleep(for: .seconds(1))
            #expect(await stopGracefully(one) == .exited(0))
            #expect(await stopGracefully(two) == .exited(0))
            #expect(await receiver.terminate() == .exited(0))

            let ones = Self.counts(in: out, host: "agent-one", tag: "one")
            let twos = Self.counts(in: out, host: "agent-two", tag: "two")
            #expect(ones.count == 4_000 && ones.values.allSatisfy { $0 == 1 }, "agent one: \(ones.count) distinct lines, \(ones.values.filter { $0 > 1 }.count) doubled")
            #expect(twos.count == 2_000 && twos.values.allSatisfy { $0 == 1 }, "agent two: \(twos.count) distinct lines, \(twos.values.filter { $0 > 1 }.count) doubled")
            // Agent two never read agent one's file, although the copied spool holds its offsets.
            #expect(Self.counts(in: out, host: "agent-two", tag: "one").isEmpty, "agent two shipped lines of agent one's file")
            let log = (try? String(contentsOfFile: secondLog, encoding: .utf8)) ?? ""
            #expect(log.contains("this spool was copied"), "no warning about the copied spool:\n\(log.suffix(2000))")
        }
    }

    /// The receiver's resident memory in bytes (VmRSS), from /proc.
    static func residentBytes(_ pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "")
        else { return nil }
        return kilobytes * 1024
    }

    @Test("40 peers each send a tiny batch claiming 64 MiB uncompressed, then idle: refused as malformed, and the receiver's memory stays under 250 MB")
    func claimedSizesDoNotPinMemory() async throws {
        try await FerryScene.run("fault-memory-pin") { scene in
            let receiver = try await scene.node("receiver", [
                "receive", "--spool", try scene.path("spool-receiver"), "--out", try scene.path("out", create: true),
            ])
            let pid = try #require(receiver.process?.pid)
            var encoder = BatchEncoder()
            let honest = try encoder.encode(Batch(host: "pin", events: [Event(timestamp: 1, source: "pin", line: Array("x".utf8))]))
            let liar = SealedBatch(eventCount: 1, uncompressedSize: 64 << 20, crc32c: honest.crc32c, compressed: honest.compressed)
            let peers = 40
            let refusals = TallyCounter()
            let before = Self.residentBytes(pid) ?? 0
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<peers {
                    group.addTask {
                        try await RawFerryConnection.with(port: receiver.port) { connection in
                            let id = (0..<16).map { _ in UInt8.random(in: 0...255) }
                            guard case .welcome = try await connection.handshake(spoolID: id, hostName: "pin-\(index)", key: nil) else { return }
                            let origin = BatchOrigin(spoolID: id, sequence: 1, events: 1)
                            try await connection.send(.batch(BatchFrame(sequence: 1, origin: origin, batch: liar)))
                            if case .refuse(let refusal) = try await connection.nextAnswer(), refusal.code == .malformed {
                                refusals.increment()
                            }
                            // Stay connected, heartbeating, while the memory is measured.
                            try await connection.send(.heartbeat)
                            try await Task.sleep(for: .seconds(2))
                        }
                    }
                }
                try await Task.sleep(for: .seconds(1))
                let during = Self.residentBytes(pid) ?? 0
                print("memory pin: receiver RSS \(before / 1_000_000) MB before, \(during / 1_000_000) MB with \(peers) lying peers connected")
                #expect(during < 250_000_000, "the receiver holds \(during / 1_000_000) MB for \(peers) tiny frames")
                try await group.waitForAll()
            }
            #expect(refusals.value == peers, "\(refusals.value) of \(peers) lying batches were refused as malformed")

            // A frame larger than a client hello can be, before any hello: refused at once, not buffered.
            try await RawFerryConnection.with(port: receiver.port) { connection in
                _ = try await connection.serverHello()
                try await connection.send(bytes: [0x00, 0x80, 0x00, 0x00, Frame.Kind.clientHello.rawValue])
                let frames = try await withDeadline(.seconds(10), "the oversized pre-hello frame to be refused") {
                    try await connection.framesUntilClosed()
                }
                let codes = frames.compactMap { frame -> RefusalCode? in
                    if case .refuse(let refusal) = frame { return refusal.code }
                    return nil
                }
                #expect(codes == [.protocolViolation], "expected one protocol-violation refusal, got \(frames)")
            }
            #expect(await receiver.terminate() == .exited(0))
        }
    }

    @Test("--max-buffer-bytes 1: batches arrive one at a time, every line exactly once (a lone batch is always taken), the refusals counted")
    func tinyBufferBudget() async throws {
        try await FerryScene.run("fault-buffer-budget") { scene in
            let out = try scene.path("out", create: true)
            let metricsPort = try freeTCPPort()
            let receiver = try await scene.node("receiver", [
                "receive", "--spool", try scene.path("spool-receiver"), "--out", out, "--max-buffer-bytes", "1",
                "--metrics-listen", "127.0.0.1:\(metricsPort)",
            ])
            let files = try (0..<3).map { try scene.path("app-\($0).log") }
            for (index, file) in files.enumerated() {
                try Self.write(lines: 0..<3_000, to: file, tag: "agent-\(index)")
                _ = try startAgent(["--file", file, "--batch-events", "100", "--backoff-base-ms", "10", "--backoff-cap-ms", "200"],
                                   spool: try scene.path("spool-agent-\(index)"), port: receiver.port, host: "budget-\(index)",
                                   stderrPath: try scene.path("agent-\(index).log"), children: scene.children)
            }
            try await waitUntil("three agents' lines through a one-byte budget", deadline: .seconds(90)) {
                (0..<3).allSatisfy { Self.counts(in: out, host: "budget-\($0)", tag: "agent-\($0)").count >= 3_000 }
            }
            for index in 0..<3 {
                let counts = Self.counts(in: out, host: "budget-\(index)", tag: "agent-\(index)")
                #expect(counts.count == 3_000 && counts.values.allSatisfy { $0 == 1 }, "agent \(index): \(counts.count) distinct lines")
            }
            let refused = httpGet(port: metricsPort, path: "/metrics").flatMap { metricValue($0, "logferry_ferry_listener_buffer_budget_refusals_total") } ?? 0
            print("buffer budget: \(Int(refused)) batches refused retry-later while another was held")
            #expect(await receiver.terminate() == .exited(0))
        }
    }

    @Test("--max-sessions 3: the fourth session is refused with retry-later at once; the first three are served")
    func sessionCap() async throws {
        try await FerryScene.run("fault-max-sessions") { scene in
            let receiver = try await scene.node("receiver", [
                "receive", "--spool", try scene.path("spool-receiver"), "--out", try scene.path("out", create: true),
                "--max-sessions", "3",
            ])
            let held = Flag()
            let welcomed = TallyCounter()
            let holders = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<3 {
                        group.addTask {
                            try await RawFerryConnection.with(port: receiver.port) { connection in
                                let id = (0..<16).map { _ in UInt8.random(in: 0...255) }
                                if case .welcome = try await connection.handshake(spoolID: id, hostName: "held-\(index)", key: nil) {
                                    welcomed.increment()
                                }
                                while !held.isSet { try await Task.sleep(for: .milliseconds(50)) }
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            try await waitUntil("three sessions welcomed", deadline: .seconds(20)) { welcomed.value == 3 }
            try await RawFerryConnection.with(port: receiver.port) { connection in
                let frames = try await withDeadline(.seconds(10), "the fourth session to be refused") {
                    try await connection.framesUntilClosed()
                }
                let refusal = frames.compactMap { frame -> Refusal? in
                    if case .refuse(let refusal) = frame { return refusal }
                    return nil
                }.first
                #expect(refusal?.code == .retryLater && refusal?.reason.contains("3 sessions") == true, "got \(frames)")
            }
            held.set()
            try await holders.value
            #expect(await receiver.terminate() == .exited(0))
        }
    }
}
