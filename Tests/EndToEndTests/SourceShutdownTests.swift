import Foundation
import LogFerryTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM while the agent's spool is under capacity pressure (upstream down): every source either stores what
/// it has read or leaves it unread, so after the restart every numbered line arrives exactly once — or, for a push
/// source whose spool never frees up, the lines it could not store are counted and logged. Plus the syslog TCP
/// listener's connection cap and idle timeout.
@Suite("Source shutdown under a full spool, syslog TCP limits (real processes)", .serialized)
struct SourceShutdownTests {
    /// `count` lines `NNNNNN <hex>`: numbered, `payloadBytes` of random hex so that zlib cannot squeeze them much.
    static func numberedLines(_ range: Range<Int>, payloadBytes: Int = 500, prefix: [UInt8] = []) -> [UInt8] {
        let hex = Array("0123456789abcdef".utf8)
        var generator = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(range.count * (payloadBytes + prefix.count + 8))
        for number in range {
            bytes += prefix
            bytes += Array(String(format: "%06d ", number).utf8)
            var left = payloadBytes
            while left > 0 {
                var random = generator.next()
                for _ in 0..<min(16, left) {
                    bytes.append(hex[Int(random & 15)])
                    random >>= 4
                }
                left -= min(16, left)
            }
            bytes.append(0x0A)
        }
        return bytes
    }

    /// The line numbers found in `lines` (the six digits after `marker`, or at the start), in order.
    static func numbers(_ lines: [[UInt8]], after marker: [UInt8] = []) -> [Int] {
        lines.compactMap { line in
            var start = 0
            if !marker.isEmpty {
                guard let at = line.indices.first(where: { line[$0...].starts(with: marker) }) else { return nil }
                start = at + marker.count
            }
            guard line.count >= start + 6 else { return nil }
            return Int(String(decoding: line[start..<start + 6], as: UTF8.self))
        }
    }

    /// Checks that `numbers` holds each of `0..<count` exactly once (in order when `ordered`).
    static func expectEachOnce(_ numbers: [Int], count: Int, ordered: Bool, _ what: String) {
        var seen = [Int](repeating: 0, count: count)
        var outside = 0
        for number in numbers {
            if number >= 0, number < count { seen[number] += 1 } else { outside += 1 }
        }
        let missing = seen.indices.filter { seen[$0] == 0 }
        let doubled = seen.indices.filter { seen[$0] > 1 }
        #expect(missing.isEmpty && doubled.isEmpty && outside == 0,
                "\(what): \(missing.count) of \(count) lines missing (first \(missing.prefix(5))), \(doubled.count) doubled (first \(doubled.prefix(5))), \(outside) unexpected")
        if ordered { #expect(numbers == Array(0..<numbers.count), "\(what): lines out of order") }
    }

    static func metric(_ port: Int, _ name: String) -> Double? {
        scrapeMetric(port: port, name)
    }

    /// Waits until the metric `name` is positive and has not changed for `quiet` (the source is held back).
    static func waitUntilSteady(_ port: Int, _ name: String, quiet: Duration = .milliseconds(1500), timeout: Duration = .seconds(60)) async -> Double? {
        var last: Double?
        var since = ContinuousClock.now
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let value = metric(port, name)
            if value != last {
                last = value
                since = .now
            } else if let value, value > 0, ContinuousClock.now - since >= quiet {
                return value
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }

    /// Ships whatever is left in `spool` to `receiverPort` with an agent that has no input and exits once drained.
    static func drain(_ scene: FerryScene, spool: String, receiverPort: Int, host: String, label: String) async throws {
        let agent = try startAgent(["--exit-when-drained"], spool: spool, port: receiverPort, host: host,
                                   stderrPath: scene.directory.file(label + ".stderr"), children: scene.children)
        let exit = await waitForExit(agent, timeout: .seconds(60))
        #expect(exit == .exited(0), "draining agent: \(String(describing: exit)); stderr:\n\(agent.standardError.suffix(2000))")
    }

    /// Waits for `child` to exit; SIGKILLs it after `timeout` (then the exit is not `.exited(0)`).
    static func waitForExit(_ child: LogFerryProcess, timeout: Duration) async -> LogFerryProcess.Exit {
        let watchdog = Task {
            try await Task.sleep(for: timeout)
            child.signal(SIGKILL)
        }
        defer { watchdog.cancel() }
        return await child.wait()
    }

    // MARK: - Files

    @Test("file source: SIGTERM under capacity pressure with an open batch, then a restart: all 12,000 lines exactly once")
    func fileSourceUnderPressure() async throws {
        try await FerryScene.run("shutdown-file") { scene in
            let (directory, children) = (scene.directory, scene.children)
            let logs = try scene.path("logs", create: true)
            let spool = directory.file("agent-spool")
            let out = directory.file("out")
            let upstream = try freeTCPPort()
            let metricsPort = try freeTCPPort()
            let total = 12_000
            let arguments = ["--file", logs + "/*.log", "--max-spool-bytes", "4194304", "--linger-ms", "30000",
                             "--metrics-listen", "127.0.0.1:\(metricsPort)"]
            // Upstream down: nothing leaves the spool.
            let agent = try startAgent(arguments, spool: spool, port: upstream, host: "file-host",
                                       stderrPath: directory.file("agent-1.stderr"), children: children)
            try appendToFile(logs + "/app.log", Self.numberedLines(0..<total))
            let read = await waitUntil(timeout: .seconds(60)) {
                (Self.metric(metricsPort, "logferry_file_lines_read_total") ?? 0) >= Double(total)
            }
            #expect(read, "the agent did not read the lines; stderr:\n\(agent.standardError.suffix(2000))")
            // Lines are counted as read before their batch is sealed and stored: wait for the spool to fill.
            let pressed = await waitUntil(timeout: .seconds(30)) {
                (Self.metric(metricsPort, "logferry_spool_bytes") ?? 0) >= 2_097_152
            }
            #expect(pressed, "the spool is not under capacity pressure: \(String(describing: Self.metric(metricsPort, "logferry_spool_bytes")))")
            #expect(await stopGracefully(agent) == .exited(0), "stderr:\n\(agent.standardError.suffix(2000))")

            // Upstream up, agent restarted on the same spool and file.
            let receiver = try await ReceiverProcess.start(
                spool: directory.file("receiver-spool"), out: out, port: upstream,
                stderrPath: directory.file("receiver.stderr"), children: children
            )
            // A short linger now: the lines read again must not wait 30 s in their batch.
            let restarted = ["--file", logs + "/*.log", "--max-spool-bytes", "4194304", "--linger-ms", "200"]
            let again = try startAgent(restarted, spool: spool, port: receiver.port, host: "file-host",
                                       stderrPath: directory.file("agent-2.stderr"), children: children)
            _ = await waitUntil(timeout: .seconds(40)) { ReceivedOutput.lineCount(in: out) >= total }
            try await Task.sleep(for: .milliseconds(500))
            let lines = outputLines(ReceivedOutput.rawLines(in: out), host: "file-host", file: "app") ?? []
            Self.expectEachOnce(Self.numbers(lines), count: total, ordered: true, "file lines after the restart")
            #expect(await stopGracefully(again) == .exited(0))
            #expect(await stopGracefully(receiver.process) == .exited(0))
        }
    }

    // MARK: - stdin

    /// stdin from a regular file bigger than the spool; upstream down until SIGTERM. With `upstreamAfterSigterm`
    /// the receiver comes up during the agent's bounded wait, so everything read is stored; otherwise what could
    /// not be stored is counted and logged, and the rest arrives.
    func stdinUnderFullSpool(upstreamAfterSigterm: Bool, label: String) async throws {
        try await FerryScene.run(label) { scene in
            let (directory, children) = (scene.directory, scene.children)
            let spool = directory.file("agent-spool")
            let out = directory.file("out")
            let upstream = try freeTCPPort()
            let metricsPort = try freeTCPPort()
            let input = directory.file("input.txt")
            try Data(Self.numberedLines(0..<20_000)).write(to: URL(fileURLWithPath: input))
            let agent = try ToolProcess(LogFerryProcess.binaryPath, [
                "agent", "--stdin", "--spool", spool, "--to", "127.0.0.1:\(upstream)", "--host-name", "stdin-host",
                "--backoff-cap-ms", "1000", "--max-spool-bytes", "2097152", "--segment-bytes", "262144",
                "--batch-bytes", "131072", "--linger-ms", "30000", "--metrics-listen", "127.0.0.1:\(metricsPort)",
            ], stdinFile: input, outputPrefix: directory.file("agent"), children: children)
            // The spool fills up and the reading stops, a batch waiting for space.
            let taken = try #require(await Self.waitUntilSteady(metricsPort, "logferry_source_events_total"),
                                     "stdin never held back; stderr:\n\(agent.standardError.suffix(2000))")
            #expect(taken < 20_000, "the spool never filled up")
            agent.signal(SIGTERM)
            var receiver: ReceiverProcess?
            if upstreamAfterSigterm {
                receiver = try await ReceiverProcess.start(
                    spool: directory.file("receiver-spool"), out: out, port: upstream,
                    stderrPath: directory.file("receiver.stderr"), children: children
                )
            }
            let status = await agent.wait(timeout: .seconds(40))
            #expect(status == 0, "agent exit \(String(describing: status)); stderr:\n\(agent.standardError.suffix(3000))")
            let stderr = agent.standardError
            var lost = 0
            if let range = stderr.range(of: "LOST ") {
                lost = Int(stderr[range.upperBound...].prefix { $0.isNumber }) ?? -1
            }
            if upstreamAfterSigterm {
                #expect(lost == 0, "lines lost although the upstream came back within the wait:\n\(stderr.suffix(2000))")
            } else {
                #expect(lost > 0, "the lines that could not be stored were not reported:\n\(stderr.suffix(2000))")
            }
            if receiver == nil {
                receiver = try await ReceiverProcess.start(
                    spool: directory.file("receiver-spool"), out: out, port: upstream,
                    stderrPath: directory.file("receiver.stderr"), children: children
                )
            }
            let port = try #require(receiver?.port)
            try await Self.drain(scene, spool: spool, receiverPort: port, host: "stdin-host", label: "agent-drain")
            let stored = Int(taken) - lost
            _ = await waitUntil(timeout: .seconds(30)) { ReceivedOutput.lineCount(in: out) >= stored }
            try await Task.sleep(for: .milliseconds(500))
            let lines = outputLines(ReceivedOutput.rawLines(in: out), host: "stdin-host", file: "stdin") ?? []
            // Every line read is either received exactly once or counted as lost (the last ones read).
            Self.expectEachOnce(Self.numbers(lines), count: stored, ordered: true, "stdin lines (\(Int(taken)) read, \(lost) reported lost)")
            if let receiver { #expect(await stopGracefully(receiver.process) == .exited(0)) }
        }
    }

    @Test("stdin: SIGTERM with a batch waiting for space; the upstream returns within the wait: every line read arrives once")
    func stdinStoredOnShutdown() async throws {
        try await stdinUnderFullSpool(upstreamAfterSigterm: true, label: "shutdown-stdin")
    }

    @Test("stdin: SIGTERM with a batch waiting for space that never comes: the lost lines are counted and logged")
    func stdinLossReported() async throws {
        try await stdinUnderFullSpool(upstreamAfterSigterm: false, label: "shutdown-stdin-lost")
    }

    // MARK: - syslog

    @Test("syslog TCP: SIGTERM with a batch waiting for space; the upstream returns within the wait: every message taken arrives once")
    func syslogStoredOnShutdown() async throws {
        try await FerryScene.run("shutdown-syslog") { scene in
            let (directory, children) = (scene.directory, scene.children)
            let spool = directory.file("agent-spool")
            let out = directory.file("out")
            let upstream = try freeTCPPort()
            let metricsPort = try freeTCPPort()
            let agent = try startAgent([
                "--syslog-tcp", "127.0.0.1:0", "--max-spool-bytes", "2097152", "--segment-bytes", "262144",
                "--batch-bytes", "131072", "--linger-ms", "30000", "--metrics-listen", "127.0.0.1:\(metricsPort)",
            ], spool: spool, port: upstream, host: "syslog-host", stderrPath: directory.file("agent.stderr"), children: children)
            let announced = try await awaitAnnouncements(agent, prefixes: ["syslog tcp listening on "], timeout: .seconds(60))
            let syslogPort = try #require(announced["syslog tcp listening on "].flatMap(portOf))
            let fd = try #require(connectTCP(port: syslogPort))
            defer { close(fd) }
            let bytes = Self.numberedLines(0..<20_000, prefix: Array("<13>1 - peer app - - - seq=".utf8))
            // Send without blocking until the agent stops reading (a full spool pushes back on the peer).
            var offset = 0
            var taken: Double?
            var quietSince = ContinuousClock.now
            var last: Double = -1
            let deadline = ContinuousClock.now + .seconds(60)
            while offset < bytes.count, ContinuousClock.now < deadline {
                let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, min($0.count, 65_536), Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
                if n > 0 { offset += n; continue }
                let value = Self.metric(metricsPort, "logferry_source_events_total") ?? 0
                if value != last { last = value; quietSince = .now }
                if value > 0, ContinuousClock.now - quietSince >= .milliseconds(1500) { taken = value; break }
                try await Task.sleep(for: .milliseconds(100))
            }
            let read = try #require(taken, "syslog never held back; stderr:\n\(agent.standardError.suffix(2000))")
            agent.signal(SIGTERM)
            let receiver = try await ReceiverProcess.start(
                spool: directory.file("receiver-spool"), out: out, port: upstream,
                stderrPath: directory.file("receiver.stderr"), children: children
            )
            let exit = await Self.waitForExit(agent, timeout: .seconds(40))
            #expect(exit == .exited(0), "agent: \(String(describing: exit)); stderr:\n\(agent.standardError.suffix(3000))")
            #expect(!agent.standardError.contains("LOST "), "lines lost although the upstream came back:\n\(agent.standardError.suffix(2000))")
            try await Self.drain(scene, spool: spool, receiverPort: receiver.port, host: "syslog-host", label: "agent-drain")
            _ = await waitUntil(timeout: .seconds(30)) { ReceivedOutput.lineCount(in: out) >= Int(read) }
            try await Task.sleep(for: .milliseconds(500))
            let lines = outputLines(ReceivedOutput.rawLines(in: out), host: "syslog-host", file: "syslog") ?? []
            Self.expectEachOnce(Self.numbers(lines, after: Array("seq=".utf8)), count: Int(read), ordered: true, "syslog messages")
            #expect(await stopGracefully(receiver.process) == .exited(0))
        }
    }

    /// Whether the peer closed `fd` (EOF or reset) within `timeout`; false when it is still open then.
    /// Polls without blocking and sleeps between polls: a blocking poll would hold one of the few
    /// cooperative threads, starving the test's own talking task on a loaded 2-core machine.
    static func closedByPeer(_ fd: Int32, within timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        repeat {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&poller, 1, 0) > 0 {
                var byte: UInt8 = 0
                let n = recv(fd, &byte, 1, Int32(MSG_DONTWAIT))
                if n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) { return true }
                if n > 0 { continue }
            }
            try? await Task.sleep(for: .milliseconds(20))
        } while ContinuousClock.now < deadline
        return false
    }

    static func sendLine(_ fd: Int32, _ text: String) -> Bool {
        let bytes = Array((text + "\n").utf8)
        return bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    @Test("syslog TCP: past --syslog-max-connections new connections are closed; a silent one is closed after --syslog-idle-timeout")
    func syslogConnectionLimits() async throws {
        try await FerryScene.run("syslog-limits") { scene in
            let (directory, children) = (scene.directory, scene.children)
            let metricsPort = try freeTCPPort()
            let agent = try startAgent([
                "--syslog-tcp", "127.0.0.1:0", "--syslog-max-connections", "2", "--syslog-idle-timeout", "3",
                "--metrics-listen", "127.0.0.1:\(metricsPort)",
            ], spool: directory.file("agent-spool"), port: try freeTCPPort(), host: "limits-host",
               stderrPath: directory.file("agent.stderr"), children: children)
            let announced = try await awaitAnnouncements(agent, prefixes: ["syslog tcp listening on "], timeout: .seconds(60))
            let port = try #require(announced["syslog tcp listening on "].flatMap(portOf))
            #expect(await waitUntil(timeout: .seconds(30)) { httpGet(port: metricsPort, path: "/metrics") != nil })

            // Two admitted (each sends one message, so both are surely accepted first), two more refused.
            // `second` keeps talking from the start, `first` stays silent: only `first` may be closed as idle,
            // however slowly this machine runs the checks in between.
            let first = try #require(connectTCP(port: port))
            defer { close(first) }
            #expect(Self.sendLine(first, "<13>1 - peer app - - - first"))
            let second = try #require(connectTCP(port: port))
            defer { close(second) }
            #expect(Self.sendLine(second, "<13>1 - peer app - - - second"))
            // A thread of its own, not a task: the cooperative pool may be busy with other suites' work.
            let talking = DispatchGroup()
            DispatchQueue.global().async(group: talking) {
                for index in 0..<40 {
                    _ = Self.sendLine(second, "<13>1 - peer app - - - talk \(index)")
                    usleep(250_000)
                }
            }
            #expect(await waitUntil(timeout: .seconds(10)) { (Self.metric(metricsPort, "logferry_source_events_total") ?? 0) >= 2 })
            let extra = try (0..<2).map { _ in try #require(connectTCP(port: port)) }
            defer { extra.forEach { close($0) } }
            for fd in extra {
                #expect(await Self.closedByPeer(fd, within: .seconds(3)), "a connection past the limit was not closed")
            }
            #expect(Self.metric(metricsPort, "logferry_syslog_connections_refused_total") == 2)
            #expect(await Self.closedByPeer(first, within: .seconds(8)), "a silent connection was not closed after the idle timeout")
            #expect(await !Self.closedByPeer(second, within: .milliseconds(500)), "a busy connection was closed as idle")
            await withCheckedContinuation { done in talking.notify(queue: .global()) { done.resume() } }
            #expect(Self.metric(metricsPort, "logferry_syslog_connections_idle_closed_total") == 1)

            // A slot freed: a new connection is served.
            let later = try #require(connectTCP(port: port))
            defer { close(later) }
            let before = Self.metric(metricsPort, "logferry_source_events_total") ?? 0
            #expect(Self.sendLine(later, "<13>1 - peer app - - - later"))
            #expect(await waitUntil(timeout: .seconds(10)) { (Self.metric(metricsPort, "logferry_source_events_total") ?? 0) > before })

            let stderr = agent.standardError
            #expect(stderr.contains("syslog connection refused") && stderr.contains("127.0.0.1"), "refusals not logged with the peer:\n\(stderr.suffix(2000))")
            #expect(stderr.contains("syslog-idle-timeout"), "idle close not logged:\n\(stderr.suffix(2000))")
            #expect(await stopGracefully(agent) == .exited(0))
        }
    }
}
