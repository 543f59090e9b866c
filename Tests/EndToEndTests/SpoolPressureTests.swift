import Foundation
import LogFerrySpool
import LogFerryTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A spool under pressure, with real processes: a cap near (here: below) the segment size under each capacity
/// policy, and a spool on a small filesystem that fills up. Each must resume by itself once the receiver has taken
/// the backlog, and `logferry spool inspect` and the metrics must tell the same story while the agent runs.
@Suite("Spool under pressure (real processes)", .serialized)
struct SpoolPressureTests {
    /// 4 MiB cap against the default 64 MiB segments: the same shape as the operator's 16 MiB cap, smaller.
    static let cap = 4 << 20

    @Test("block, cap below the segment size: the agent resumes when the receiver comes back; every line once")
    func blockResumes() async throws {
        try await FerryScene.run("pressure-block") { scene in
            let logs = try scene.path("logs", create: true)
            let out = scene.directory.file("out")
            let spool = scene.directory.file("agent-spool")
            let lineCount = 90_000  // ~10 MB of poorly compressible lines: well over the cap once compressed
            try appendToFile(logs + "/app.log", AgentFileTests.numberedLines("blk", 0..<lineCount, hex: true))
            let port = try freeTCPPort()
            let agent = try startAgent(
                ["--file", logs + "/*.log", "--max-spool-bytes", "\(Self.cap)"],
                spool: spool, port: port, host: "blk-host", stderrPath: scene.directory.file("agent.stderr"),
                children: scene.children)
            // The spool fills and the agent blocks.
            let filled = await waitUntil(timeout: .seconds(20)) {
                (try? await Self.inspect(spool, scene))?.bytes ?? 0 >= Int64(Self.cap / 2)
            }
            #expect(filled, "the spool never filled")
            try await Task.sleep(for: .seconds(1))
            let receiver = try await ReceiverProcess.start(
                spool: scene.directory.file("receiver-spool"), out: out, port: port,
                stderrPath: scene.directory.file("receiver.stderr"), children: scene.children)
            let complete = await waitUntil(timeout: .seconds(30)) { ReceivedOutput.lineCount(in: out) >= lineCount }
            #expect(complete, "received \(ReceivedOutput.lineCount(in: out)) of \(lineCount) lines; agent stderr:\n\(agent.standardError.suffix(3000))")
            try await Task.sleep(for: .milliseconds(500))
            let lines = outputLines(ReceivedOutput.rawLines(in: out), host: "blk-host", file: "app.log") ?? []
            let numbers = lines.compactMap { AgentFileTests.number($0, tag: "blk") }
            #expect(numbers.count == lineCount && numbers == Array(0..<lineCount),
                    "\(numbers.count) lines, \(Set(numbers).count) distinct, of \(lineCount)")
            #expect(agent.standardError.contains("segment size"), "no log line about the segment size")
            #expect(await stopGracefully(agent) == .exited(0))
            #expect(await stopGracefully(receiver.process) == .exited(0))
        }
    }

    @Test("drop-newest, cap below the segment size: drops are counted alike everywhere, and new lines are taken again once drained")
    func dropNewestResumes() async throws {
        try await dropPolicy("drop-newest", tag: "dn")
    }

    @Test("drop-oldest, cap below the segment size: drops a little at a time, counted alike everywhere; resumes")
    func dropOldestResumes() async throws {
        try await dropPolicy("drop-oldest", tag: "do")
    }

    func dropPolicy(_ policy: String, tag: String) async throws {
        try await FerryScene.run("pressure-\(policy)") { scene in
            let logs = try scene.path("logs", create: true)
            let out = scene.directory.file("out")
            let spool = scene.directory.file("agent-spool")
            let first = 90_000
            try appendToFile(logs + "/app.log", AgentFileTests.numberedLines(tag, 0..<first, hex: true))
            let port = try freeTCPPort()
            let metricsPort = try freeTCPPort()
            let agent = try startAgent(
                ["--file", logs + "/*.log", "--max-spool-bytes", "\(Self.cap)", "--spool-policy", policy,
                 "--metrics-listen", "127.0.0.1:\(metricsPort)"],
                spool: spool, port: port, host: "\(tag)-host", stderrPath: scene.directory.file("agent.stderr"),
                children: scene.children)
            // With no receiver the spool overflows: drops happen and are counted.
            let dropped = await waitUntil(timeout: .seconds(30)) {
                let inspected = (try? await Self.inspect(spool, scene))?.droppedBatches ?? 0
                return Self.metric(metricsPort, "logferry_spool_dropped_batches_total") ?? 0 > 0 && inspected > 0
            }
            #expect(dropped, "no drops counted; agent stderr:\n\(agent.standardError.suffix(2000))")
            // Let the source read everything it has, then compare the two views of one state.
            try await Task.sleep(for: .seconds(2))
            let report = try await Self.inspect(spool, scene)
            let metricDrops = Self.metric(metricsPort, "logferry_spool_dropped_batches_total")
            #expect(metricDrops == Double(report.droppedBatches), "metrics \(metricDrops ?? -1) vs inspect \(report.droppedBatches)")
            let ferryBacklog = report.cursors.first { $0.name == "ferry" }?.backlog
            let metricBacklog = Self.metric(metricsPort, "logferry_spool_backlog", label: "cursor=\"ferry\"")
            #expect(ferryBacklog != nil && metricBacklog.map { UInt64($0) } == ferryBacklog,
                    "backlog: metrics \(metricBacklog ?? -1) vs inspect \(ferryBacklog ?? 0)")
            #expect(report.bytes <= Int64(Self.cap))
            if policy == "drop-oldest" {
                // A drop frees a slice of the spool, not the whole backlog.
                #expect(report.bytes >= Int64(Self.cap / 2), "drop-oldest kept only \(report.bytes) of \(Self.cap) bytes")
            }

            let receiver = try await ReceiverProcess.start(
                spool: scene.directory.file("receiver-spool"), out: out, port: port,
                stderrPath: scene.directory.file("receiver.stderr"), children: scene.children)
            // Drained: the ferry cursor is at the end and the output stopped growing.
            var lastCount = -1
            let drained = await waitUntil(timeout: .seconds(30), interval: .seconds(1)) {
                let count = ReceivedOutput.lineCount(in: out)
                let backlog = (try? await Self.inspect(spool, scene))?.cursors.first { $0.name == "ferry" }?.backlog
                defer { lastCount = count }
                return backlog == 0 && count == lastCount
            }
            #expect(drained, "the ferry backlog never drained")
            let before = ReceivedOutput.lineCount(in: out)
            let beforeNumbers = Set((outputLines(ReceivedOutput.rawLines(in: out), host: "\(tag)-host", file: "app.log") ?? [])
                .compactMap { AgentFileTests.number($0, tag: tag) })
            #expect(beforeNumbers.count == before, "duplicates among the first lines")
            // New lines after the drain are all taken and delivered.
            let more = 2000
            try appendToFile(logs + "/app.log", AgentFileTests.numberedLines(tag, first..<(first + more), hex: true))
            let resumed = await waitUntil(timeout: .seconds(30)) {
                let numbers = (outputLines(ReceivedOutput.rawLines(in: out), host: "\(tag)-host", file: "app.log") ?? [])
                    .compactMap { AgentFileTests.number($0, tag: tag) }
                return Set(numbers).isSuperset(of: first..<(first + more))
            }
            #expect(resumed, "after draining, \(ReceivedOutput.lineCount(in: out) - before) of \(more) new lines arrived; agent stderr:\n\(agent.standardError.suffix(2000))")
            let numbers = (outputLines(ReceivedOutput.rawLines(in: out), host: "\(tag)-host", file: "app.log") ?? [])
                .compactMap { AgentFileTests.number($0, tag: tag) }
            #expect(Set(numbers).isSuperset(of: first..<(first + more)), "new lines missing")
            #expect(Set(numbers).count == numbers.count, "duplicates")
            if policy == "drop-oldest" {
                // The newest of the first lines were kept.
                #expect(beforeNumbers.contains(first - 1))
            }
            let final = try await Self.inspect(spool, scene)
            let finalDrops = Self.metric(metricsPort, "logferry_spool_dropped_batches_total")
            #expect(finalDrops == Double(final.droppedBatches), "metrics \(finalDrops ?? -1) vs inspect \(final.droppedBatches)")
            #expect(await stopGracefully(agent) == .exited(0))
            #expect(await stopGracefully(receiver.process) == .exited(0))
        }
    }

    @Test("a full disk under block: acked segments are freed, the agent resumes by itself; every line once")
    func fullDiskResumes() async throws {
        guard getuid() == 0 else {
            print("SpoolPressureTests.fullDiskResumes skipped: mounting a small tmpfs needs root")
            return
        }
        try await FerryScene.run("pressure-disk") { scene in
            let disk = try scene.path("disk", create: true)
            let mount = try await ToolProcess.run("/bin/mount", ["-t", "tmpfs", "-o", "size=20m", "tmpfs", disk],
                                                  outputPrefix: scene.directory.file("mount"), children: scene.children)
            guard mount.status == 0 else {
                print("SpoolPressureTests.fullDiskResumes skipped: mount -t tmpfs failed: \(mount.stderr)")
                return
            }
            do {
                try await fullDisk(scene, disk: disk)
            } catch {
                await Self.unmount(disk, scene)
                throw error
            }
            await Self.unmount(disk, scene)
        }
    }

    func fullDisk(_ scene: FerryScene, disk: String) async throws {
        // Others share the filesystem: 12 MB are taken, about 8 MB are left for the spool.
        try appendToFile(disk + "/filler", [UInt8](repeating: 0x55, count: 12_000_000))
        let logs = try scene.path("logs", create: true)
        let out = scene.directory.file("out")
        let spool = disk + "/agent-spool"
        let lineCount = 200_000  // ~21 MB of lines, ~11 MB once compressed: more than the disk holds
        try appendToFile(logs + "/app.log", AgentFileTests.numberedLines("full", 0..<lineCount, hex: true))
        let port = try freeTCPPort()
        let first = try startAgent(
            ["--file", logs + "/*.log"], spool: spool, port: port, host: "full-host",
            stderrPath: scene.directory.file("agent-1.stderr"), children: scene.children)
        // The receiver is away at first, so the disk fills up for sure.
        let full = await waitUntil(timeout: .seconds(30)) { first.standardError.contains("Waiting for space") }
        #expect(full, "the disk never filled; agent stderr:\n\(first.standardError.suffix(2000))")
        // A restart on the full disk must not wedge either (kill -9: nothing is tidied up on the way out).
        await first.stop()
        let agent = try startAgent(
            ["--file", logs + "/*.log"], spool: spool, port: port, host: "full-host",
            stderrPath: scene.directory.file("agent.stderr"), children: scene.children)
        try await Task.sleep(for: .seconds(2))
        let receiver = try await ReceiverProcess.start(
            spool: scene.directory.file("receiver-spool"), out: out, port: port,
            stderrPath: scene.directory.file("receiver.stderr"), children: scene.children)
        let complete = await waitUntil(timeout: .seconds(45)) { ReceivedOutput.lineCount(in: out) >= lineCount }
        #expect(complete, "received \(ReceivedOutput.lineCount(in: out)) of \(lineCount) lines; agent stderr:\n\(agent.standardError.suffix(3000))")
        try await Task.sleep(for: .milliseconds(500))
        let lines = outputLines(ReceivedOutput.rawLines(in: out), host: "full-host", file: "app.log") ?? []
        let numbers = lines.compactMap { AgentFileTests.number($0, tag: "full") }
        #expect(numbers.count == lineCount && numbers == Array(0..<lineCount),
                "\(numbers.count) lines, \(Set(numbers).count) distinct, of \(lineCount)")
        // Everything is acknowledged: what was acked leaves the disk without waiting for a new line.
        let freed = await waitUntil(timeout: .seconds(10)) {
            (try? await Self.inspect(spool, scene))?.bytes ?? .max <= 3_000_000
        }
        let report = try? await Self.inspect(spool, scene)
        #expect(freed, "the spool still holds \(report?.bytes ?? -1) bytes after everything was acknowledged")
        #expect(await stopGracefully(agent) == .exited(0))
        #expect(await stopGracefully(receiver.process) == .exited(0))
    }

    static func unmount(_ disk: String, _ scene: FerryScene) async {
        scene.children.killAll()
        _ = try? await ToolProcess.run("/bin/umount", ["-l", disk], outputPrefix: scene.directory.file("umount"),
                                       children: scene.children)
    }

    /// `logferry spool inspect DIR --json`, decoded.
    static func inspect(_ spool: String, _ scene: FerryScene) async throws -> SpoolReport {
        let result = try await LogFerryProcess.run(["spool", "inspect", spool, "--json"], timeout: .seconds(20))
        return try JSONDecoder().decode(SpoolReport.self, from: Data(result.output.utf8))
    }

    /// The metric `name` from the agent's /metrics; with `label`, only the samples whose labels contain it.
    static func metric(_ port: Int, _ name: String, label: String? = nil) -> Double? {
        guard let exposition = httpGet(port: port, path: "/metrics") else { return nil }
        guard let label else { return metricValue(exposition, name) }
        let filtered = exposition.split(separator: "\n").filter { !$0.hasPrefix(name) || $0.contains(label) }
        return metricValue(filtered.joined(separator: "\n"), name)
    }
}
