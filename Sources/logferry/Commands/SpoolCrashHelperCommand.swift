import ArgumentParser
import Glibc
import LogFerryBytes
import LogFerrySpool
import Logging

/// `logferry spool crash-helper DIR` (hidden): the child process of the crash and disk-full tests.
///
/// Appends random payloads from several concurrent tasks and prints `durable <sequence> <crc32c of payload>` for
/// each one once `append` has returned (with fsync `always`: once it is on stable storage). Each line is one
/// `write(2)`, so lines are whole even when the test kills the process mid-run.
struct SpoolCrashHelperCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crash-helper",
        abstract: "Append and report durable sequences (for the crash tests).",
        shouldDisplay: false
    )

    @Argument(help: "The spool directory.")
    var directory: String

    @Option(help: "Appends to make in total; 0 runs until killed.")
    var count = 0

    @Option(help: "Concurrent appending tasks.")
    var tasks = 4

    @Option(help: "Payload size in bytes.")
    var payloadBytes = 2000

    @Option(help: "Segment size in bytes.")
    var segmentBytes = 64 << 10

    @Option(help: "fsync policy: always, never, interval[:ms].")
    var fsync = "always"

    @Option(help: "Limit file sizes to this many bytes (RLIMIT_FSIZE); after two refused appends it is lifted.")
    var fileSizeLimit: Int?

    func run() async throws {
        guard let policy = FsyncPolicy(parsing: fsync) else { throw ValidationError("unknown fsync policy \(fsync)") }
        if let fileSizeLimit { Self.limitFileSize(fileSizeLimit) }
        let logger = Logger(label: "logferry.spool", factory: { StreamLogHandler.standardError(label: $0) })
        let spool = try await Spool.open(
            SpoolConfiguration(directory: directory, segmentBytes: segmentBytes, fsync: policy), logger: logger)
        Self.emit("open \(spool.id) \(await spool.lastSequence)")
        if fileSizeLimit != nil {
            try await appendUntilFullThenRecover(spool)
        } else {
            let perTask = count == 0 ? Int.max : (count + tasks - 1) / tasks
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<tasks {
                    group.addTask {
                        var generator = SystemRandomNumberGenerator()
                        for _ in 0..<perTask {
                            try await Self.appendOne(spool, bytes: payloadBytes, using: &generator)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        await spool.close()
        Self.emit("done")
    }

    private func appendUntilFullThenRecover(_ spool: Spool) async throws {
        var generator = SystemRandomNumberGenerator()
        var refused = 0
        var stored = 0
        while stored < max(count, 1) {
            do {
                try await Self.appendOne(spool, bytes: payloadBytes, using: &generator)
                stored += 1
            } catch let error as SpoolError where error.kind == .noSpace {
                refused += 1
                Self.emit("nospace \(error.description.prefix(200))")
                if refused == 2 { Self.liftFileSizeLimit() }
            }
        }
    }

    private static func appendOne(_ spool: Spool, bytes: Int, using generator: inout SystemRandomNumberGenerator) async throws {
        let payload = (0..<bytes).map { _ in UInt8.random(in: 0...255, using: &generator) }
        if case .stored(let sequence) = try await spool.append(payload, metadata: Array("crash-helper".utf8)) {
            emit("durable \(sequence) \(String(CRC32C.checksum(payload), radix: 16))")
        }
    }

    /// Writes one line with one `write(2)` to standard output.
    static func emit(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
    }

    static func limitFileSize(_ bytes: Int) {
        signal(SIGXFSZ, SIG_IGN)
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_FSIZE.rawValue), &limit)
        limit.rlim_cur = rlim_t(bytes)
        setrlimit(Int32(RLIMIT_FSIZE.rawValue), &limit)
    }

    static func liftFileSizeLimit() {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_FSIZE.rawValue), &limit)
        limit.rlim_cur = limit.rlim_max
        setrlimit(Int32(RLIMIT_FSIZE.rawValue), &limit)
    }
}
