import ArgumentParser
import Foundation
import LogFerryDeflate
import LogFerryWire

/// `logferry bench pipeline`: the whole path on loopback with default settings — a file tailed by
/// `logferry agent`, spooled, shipped, received and written by `logferry receive` — against bare zlib level-1
/// compression of the same bytes in the same run, and against the agent's default compressor alone (ISA-L
/// level 1, the "backend alone" baseline) and against the one-thread floor of a durable shipper
/// (``PipelineFloor``); then, with `--replay`, an agent whose receiver was down
/// while the log was written drains its backlog.
struct PipelineBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "Tail -> spool -> ship -> receive -> file on loopback; agent CPU against ISA-L alone and bare zlib; backlog replay."
    )

    @Option(name: .long, help: "Megabytes of log to write.")
    var megabytes: Int = 256

    @Flag(name: .long, help: "Also measure draining a backlog spooled while the receiver was down.")
    var replay = false

    @Flag(name: .customLong("retained-replay"), help: "Also measure --replay-since: the live agent retains what it shipped, then replays it all into a fresh receiver.")
    var retainedReplay = false

    func run() async throws {
        let root = try BenchFiles.temporaryDirectory("pipeline")
        // Kept on failure, for the logs it names.
        var succeeded = false
        defer { if succeeded { try? FileManager.default.removeItem(atPath: root) } }
        let lineCount = megabytes * (1 << 20) / 205
        print("writing \(lineCount) lines (~\(megabytes) MB) ...")
        let input = try writeLog(root + "/input.log", lines: lineCount)
        let zlibCPU = try zlibBaseline(input)
        let gigabytes = Double(input.count) / 1e9
        print("bare zlib level 1 over the same bytes: \(BenchFiles.format(zlibCPU, 2)) s = \(BenchFiles.format(zlibCPU / gigabytes, 2)) CPU s/GB (\(ProcessInfo.processInfo.activeProcessorCount) cores)")
        let backendCPU = try backendBaseline(input)
        print("ISA-L level 1 alone (the agent's default compressor) over the same bytes: \(BenchFiles.format(backendCPU, 2)) s = \(BenchFiles.format(backendCPU / gigabytes, 2)) CPU s/GB (fastest of 3)")
        let floorCPU = try PipelineFloor(inputPath: root + "/input.log", spoolPath: root + "/floor.spool").measure()
        print("floor, one thread: pread -> ISA-L -> CRC32C -> pwrite + fdatasync -> loopback send, per 1 MiB chunk: \(BenchFiles.format(floorCPU, 2)) s = \(BenchFiles.format(floorCPU / gigabytes, 2)) CPU s/GB = \(BenchFiles.format(floorCPU / backendCPU, 2))x ISA-L alone")
        let linesFloorCPU = try PipelineFloor(inputPath: root + "/input.log", spoolPath: root + "/floor.spool", encodesLines: true).measure()
        print("floor with lines, one thread: the same, plus memchr line cutting and the wire's event encoding (BatchBodyBuilder), per default batch: \(BenchFiles.format(linesFloorCPU, 2)) s = \(BenchFiles.format(linesFloorCPU / gigabytes, 2)) CPU s/GB = \(BenchFiles.format(linesFloorCPU / backendCPU, 2))x ISA-L alone\n")

        // Live: the receiver is up, the agent tails the file from the start.
        let live = root + "/live"
        let receiver = try BenchProcess(["receive", "--listen", "127.0.0.1:0", "--spool", live + "/receiver", "--out", live + "/out", "--log-level", "warning"], logPath: root + "/receiver.log")
        defer { receiver.stop() }
        let port = try await receiver.listeningPort()
        let started = ContinuousClock.now
        let retention = retainedReplay ? ["--retain-bytes", "\(4 * input.count)", "--segment-bytes", "\(8 << 20)"] : []
        let agent = try BenchProcess(["agent", "--file", root + "/input.log", "--spool", live + "/agent", "--to", "127.0.0.1:\(port)", "--log-level", "warning"] + retention, logPath: root + "/agent.log")
        defer { agent.stop() }
        guard try await BenchFiles.waitForBytes(live + "/out", input.count, timeout: .seconds(600)) else {
            throw BenchError("not everything arrived; see \(root)/agent.log and receiver.log")
        }
        let elapsed = (ContinuousClock.now - started).seconds
        let agentCPU = agent.cpuSeconds
        let receiverCPU = receiver.cpuSeconds
        agent.stop()
        receiver.stop()
        let liveRate = Double(input.count) / 1e6 / elapsed
        print("live pipeline: \(BenchFiles.format(elapsed, 2)) s, \(Int(Double(lineCount) / elapsed)) lines/s, \(BenchFiles.format(liveRate)) MB/s")
        print("  agent CPU \(BenchFiles.format(agentCPU / gigabytes, 2)) s/GB = \(BenchFiles.format(agentCPU / backendCPU, 2))x ISA-L alone (target 1.3x), \(BenchFiles.format(agentCPU / floorCPU, 2))x the floor, \(BenchFiles.format(agentCPU / linesFloorCPU, 2))x the floor with lines, \(BenchFiles.format(agentCPU / zlibCPU, 2))x bare zlib level 1; receiver CPU \(BenchFiles.format(receiverCPU / gigabytes, 2)) s/GB")

        if retainedReplay {
            // Everything was delivered and retained; a fresh receiver (a new destination, or a store restored
            // empty) gets it all again from the agent's retention.
            let fresh = root + "/retained"
            let target = try BenchProcess(["receive", "--listen", "127.0.0.1:0", "--spool", fresh + "/receiver", "--out", fresh + "/out", "--log-level", "warning"], logPath: root + "/retained-receiver.log")
            defer { target.stop() }
            let freshPort = try await target.listeningPort()
            let replayStarted = ContinuousClock.now
            let replaying = try BenchProcess(["agent", "--file", root + "/input.log", "--spool", live + "/agent", "--to", "127.0.0.1:\(freshPort)", "--replay-since", "1h", "--log-level", "info"] + retention, logPath: root + "/retained-agent.log")
            defer { replaying.stop() }
            guard try await BenchFiles.waitForBytes(fresh + "/out", input.count, timeout: .seconds(900)) else {
                throw BenchError("the retained replay did not deliver everything; see \(root)/retained-*.log")
            }
            let replayTime = (ContinuousClock.now - replayStarted).seconds
            let replayRate = Double(input.count) / 1e6 / replayTime
            print("retained replay (--replay-since into a fresh receiver): \(BenchFiles.format(replayTime, 2)) s, \(BenchFiles.format(replayRate)) MB/s = \(BenchFiles.format(replayRate / liveRate, 2))x the live rate")
        }
        guard replay else {
            succeeded = true
            return
        }
        // Replay: the agent spools the whole log while nothing listens on its upstream port, then the
        // receiver starts and the backlog drains.
        let backlog = root + "/replay"
        let freePort = try Self.freePort()
        let spooling = try BenchProcess(["agent", "--file", root + "/input.log", "--spool", backlog + "/agent", "--to", "127.0.0.1:\(freePort)", "--log-level", "error"], logPath: root + "/replay-agent.log")
        defer { spooling.stop() }
        var stableSince = ContinuousClock.now
        var lastSize = -1
        while ContinuousClock.now - stableSince < .seconds(2) {
            try await Task.sleep(for: .milliseconds(200))
            let size = BenchFiles.totalBytes(backlog + "/agent")
            if size != lastSize { lastSize = size; stableSince = .now }
        }
        spooling.stop()
        print("\nreplay: \(lastSize / 1_000_000) MB spooled while the receiver was down; starting the receiver, then the agent again")
        let late = try BenchProcess(["receive", "--listen", "127.0.0.1:\(freePort)", "--spool", backlog + "/receiver", "--out", backlog + "/out", "--log-level", "warning"], logPath: root + "/replay-receiver.log")
        defer { late.stop() }
        _ = try await late.listeningPort()
        // A restarted agent connects at once; a long-running one would first wait out its reconnect backoff.
        let drainStarted = ContinuousClock.now
        let draining = try BenchProcess(["agent", "--file", root + "/input.log", "--spool", backlog + "/agent", "--to", "127.0.0.1:\(freePort)", "--log-level", "warning"], logPath: root + "/replay-agent2.log")
        defer { draining.stop() }
        guard try await BenchFiles.waitForBytes(backlog + "/out", input.count, timeout: .seconds(900)) else {
            throw BenchError("the backlog did not drain; see \(root)/replay-*.log")
        }
        let drain = (ContinuousClock.now - drainStarted).seconds
        let drainRate = Double(input.count) / 1e6 / drain
        print("  drained in \(BenchFiles.format(drain, 2)) s: \(BenchFiles.format(drainRate)) MB/s = \(BenchFiles.format(drainRate / liveRate, 2))x the live rate")
        succeeded = true
    }

    /// Writes the corpus lines to `path`; returns the bytes written.
    private func writeLog(_ path: String, lines: Int) throws -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(lines * 210)
        for batch in WireBenchCorpus.make(lines: lines, batchSize: 10_000, seed: 7) {
            for event in batch.events {
                bytes.append(contentsOf: event.line)
                bytes.append(0x0A)
            }
        }
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { throw BenchError("cannot write \(path)") }
        // On disk before anything is measured: the kernel writing a gigabyte of input back in the middle of a run
        // slows every fdatasync of the run (floor and agent alike) by a varying amount.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.synchronize()
        try handle.close()
        return bytes
    }

    /// CPU seconds of bare zlib level 1 over `bytes` in 1 MiB chunks, with one reused stream (single thread, so
    /// wall time is CPU time).
    private func zlibBaseline(_ bytes: [UInt8]) throws -> Double {
        let zlib = WireBenchZlib(level: 1)
        let started = ContinuousClock.now
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + (1 << 20), bytes.count)
            try zlib.compress(Array(bytes[offset..<end]))
            offset = end
        }
        return (ContinuousClock.now - started).seconds
    }

    /// CPU seconds of the agent's default compressor (ISA-L level 1) alone over `bytes` in 1 MiB chunks, into one
    /// reused buffer; the fastest of three runs, so the agent's ratio against it errs high, never low.
    private func backendBaseline(_ bytes: [UInt8]) throws -> Double {
        let compressor = DeflateCompressor(backend: .isal, level: 1)
        var output = [UInt8](repeating: 0, count: compressor.outputCapacity(1 << 20))
        var fastest = Double.infinity
        for _ in 0..<3 {
            let started = ContinuousClock.now
            try bytes.withUnsafeBytes { all in
                try output.withUnsafeMutableBytes { out in
                    var offset = 0
                    while offset < all.count {
                        let end = min(offset + (1 << 20), all.count)
                        _ = try compressor.compress(UnsafeRawBufferPointer(rebasing: all[offset..<end]), into: out)
                        offset = end
                    }
                }
            }
            fastest = min(fastest, (ContinuousClock.now - started).seconds)
        }
        return fastest
    }

    /// A port nothing listens on right now.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw BenchError("cannot find a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
