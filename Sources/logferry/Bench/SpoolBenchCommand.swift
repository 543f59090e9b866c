import ArgumentParser
import Foundation
import Glibc
import LogFerrySpool
import Logging

/// `logferry bench spool`: spool append and read throughput for 64 KiB batches under each fsync policy, each
/// next to a raw sequential write(+fdatasync) or read of the same bytes on the same disk in the same run.
struct SpoolBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spool",
        abstract: "Spool throughput against raw write+fdatasync of the same bytes (ratios printed)."
    )

    @Option(help: "Directory to benchmark in (a fresh subdirectory is made and removed).")
    var directory = FileManager.default.temporaryDirectory.path

    @Option(help: "Batches per run for the never/interval policies and reads.")
    var batches = 2000

    @Option(help: "Batches per run for fsync always (each costs an fdatasync when alone).")
    var syncedBatches = 200

    @Option(help: "Batch size in bytes.")
    var batchBytes = 64 << 10

    func run() async throws {
        let root = directory + "/logferry-bench-\(getpid())"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        var logger = Logger(label: "logferry.bench", factory: { StreamLogHandler.standardError(label: $0) })
        logger.logLevel = .warning
        let batch = (0..<batchBytes).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }

        print("logferry bench spool: \(batchBytes / 1024) KiB batches, \(ProcessInfo.processInfo.activeProcessorCount) CPUs, dir \(root)")
        print(String(repeating: "-", count: 96))
        func row(_ name: String, _ result: Measure, baseline: Measure? = nil, label: String = "raw") {
            var line = name.padding(toLength: 44, withPad: " ", startingAt: 0)
            line += String(format: "%9.1f MB/s %9.0f batches/s", result.megabytesPerSecond, result.batchesPerSecond)
            if let baseline {
                line += String(format: "   %.2fx %@", result.seconds > 0 ? baseline.seconds / result.seconds * Double(result.batches) / Double(baseline.batches) : 0, label)
            }
            print(line)
        }

        // Raw baselines: the same bytes, written sequentially to one file.
        let rawBulk = try Self.rawWrite(path: root + "/raw-bulk", batch: batch, count: batches, syncEach: false)
        row("raw write, one fdatasync at the end", rawBulk)
        sync()
        let rawSynced = try Self.rawWrite(path: root + "/raw-synced", batch: batch, count: syncedBatches, syncEach: true)
        row("raw write + fdatasync per batch", rawSynced)

        // Every phase starts from a settled page cache (an unmeasured sync()): otherwise a phase pays for the
        // writeback of the one before it (`never` leaves all its data dirty).
        sync()
        let never = try await Self.spoolAppend(root + "/never", .never, batch: batch, count: batches, appenders: 1, logger: logger)
        row("spool fsync never", never, baseline: rawBulk, label: "of raw")
        sync()
        let interval = try await Self.spoolAppend(root + "/interval", .interval(milliseconds: 1000), batch: batch,
                                                  count: batches, appenders: 1, logger: logger)
        row("spool fsync interval:1000 (incl. final sync)", interval, baseline: rawBulk, label: "of raw")
        sync()
        let always1 = try await Self.spoolAppend(root + "/always1", .always, batch: batch, count: syncedBatches,
                                                 appenders: 1, logger: logger)
        row("spool fsync always, 1 appender", always1, baseline: rawSynced, label: "of raw synced")
        sync()
        let always8 = try await Self.spoolAppend(root + "/always8", .always, batch: batch, count: syncedBatches * 4,
                                                 appenders: 8, logger: logger)
        row("spool fsync always, 8 appenders", always8, baseline: rawSynced, label: "of one fsync per batch")

        let rawRead = try Self.rawRead(path: root + "/raw-bulk", batchBytes: batchBytes, count: batches)
        row("raw sequential read (page cache)", rawRead)
        let read = try await Self.spoolRead(root + "/never", count: batches, logger: logger)
        row("spool reader (page cache)", read, baseline: rawRead, label: "of raw")
        print(String(repeating: "-", count: 96))
        print(String(format: "interval vs raw: %.2f (target >= 0.80); group commit, 8 appenders vs 1: %.1fx (target >= 4x)",
                     rawBulk.seconds / interval.seconds * Double(interval.batches) / Double(rawBulk.batches),
                     always8.batchesPerSecond / always1.batchesPerSecond))
    }

    struct Measure {
        var batches: Int
        var bytes: Int
        var seconds: Double
        var megabytesPerSecond: Double { Double(bytes) / seconds / 1_000_000 }
        var batchesPerSecond: Double { Double(batches) / seconds }
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    static func rawWrite(path: String, batch: [UInt8], count: Int, syncEach: Bool) throws -> Measure {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw ValidationError("cannot create \(path)") }
        defer { close(fd) }
        let start = ContinuousClock.now
        for _ in 0..<count {
            _ = batch.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if syncEach { fdatasync(fd) }
        }
        if !syncEach { fdatasync(fd) }
        return Measure(batches: count, bytes: count * batch.count, seconds: seconds(since: start))
    }

    static func rawRead(path: String, batchBytes: Int, count: Int) throws -> Measure {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw ValidationError("cannot open \(path)") }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: batchBytes)
        var checksum: UInt32 = 0
        let start = ContinuousClock.now
        for _ in 0..<count {
            _ = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            // Copy out as the spool reader does, so both hand the caller an array.
            let copy = Array(buffer)
            checksum &+= UInt32(copy[0])
        }
        _ = checksum
        return Measure(batches: count, bytes: count * batchBytes, seconds: seconds(since: start))
    }

    static func spoolAppend(
        _ path: String, _ policy: FsyncPolicy, batch: [UInt8], count: Int, appenders: Int, logger: Logger
    ) async throws -> Measure {
        let spool = try await Spool.open(SpoolConfiguration(directory: path, fsync: policy), logger: logger)
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<appenders {
                group.addTask {
                    for _ in 0..<(count / appenders) { _ = try await spool.append(batch) }
                }
            }
            try await group.waitForAll()
        }
        await spool.close()
        return Measure(batches: count, bytes: count * batch.count, seconds: seconds(since: start))
    }

    static func spoolRead(_ path: String, count: Int, logger: Logger) async throws -> Measure {
        let spool = try await Spool.open(SpoolConfiguration(directory: path, fsync: .never), logger: logger)
        let reader = spool.makeReader(from: 1)
        var bytes = 0
        var records = 0
        let start = ContinuousClock.now
        while let record = try await reader.nextIfAvailable() {
            bytes += record.payload.count
            records += 1
        }
        let elapsed = seconds(since: start)
        await spool.close()
        return Measure(batches: records, bytes: bytes, seconds: elapsed)
    }
}
