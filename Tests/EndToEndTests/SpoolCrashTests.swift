import Foundation
import LogFerryBytes
import LogFerrySpool
import LogFerryTestSupport
import Logging
import Testing

/// Crash and disk-full tests: a real `logferry spool crash-helper` child appends with fsync `always` and reports
/// each durable sequence; the test kills it with SIGKILL at random moments and checks the spool after each kill.
@Suite("Spool crash tests (real processes)", .serialized)
struct SpoolCrashTests {
    static let quiet: Logger = {
        var logger = Logger(label: "test.spool", factory: { StreamLogHandler.standardError(label: $0) })
        logger.logLevel = .critical
        return logger
    }()

    /// Every stored record of the spool at `path`, by sequence (opens and closes the spool).
    static func storedRecords(_ path: String) async throws -> [UInt64: SpoolRecord] {
        let spool = try await Spool.open(SpoolConfiguration(directory: path, segmentBytes: 32 << 10), logger: quiet)
        let reader = spool.makeReader(from: 1)
        var records: [UInt64: SpoolRecord] = [:]
        var previous: UInt64 = 0
        while let record = try await reader.nextIfAvailable() {
            #expect(record.sequence > previous, "sequences out of order: \(previous) then \(record.sequence)")
            previous = record.sequence
            records[record.sequence] = record
        }
        await spool.close()
        return records
    }

    @Test("SIGKILL at 25 random moments: every reported sequence survives intact, none is reused")
    func randomKills() async throws {
        let directory = try TemporaryDirectory("crash")
        defer { directory.remove() }
        let spool = directory.file("spool")
        var reported: [UInt64: String] = [:]
        var generator = SystemRandomNumberGenerator()
        for round in 0..<25 {
            let child = try LogFerryProcess([
                "spool", "crash-helper", spool, "--tasks", "4", "--payload-bytes", "1500", "--segment-bytes", "32768",
            ])
            let immediate = Int.random(in: 0..<5, using: &generator) == 0
            if !immediate {
                let wanted = Int.random(in: 0...120, using: &generator)
                var seen = 0
                _ = await child.readLines(until: { line in
                    if line.hasPrefix("durable ") { seen += 1 }
                    return seen >= wanted && (line.hasPrefix("durable ") || line.hasPrefix("open "))
                }, each: { line in Self.record(line, into: &reported, round: round) })
            }
            child.signal(SIGKILL)
            // Lines written before the kill are still in the pipe: they were reported durable too.
            for line in await child.remainingLines() { Self.record(line, into: &reported, round: round) }
            let exit = await child.wait()
            #expect(exit == .signalled(SIGKILL) || exit == .exited(0), "round \(round): \(exit)")

            let stored = try await Self.storedRecords(spool)
            for (sequence, digest) in reported {
                guard let record = stored[sequence] else {
                    Issue.record("round \(round): reported durable sequence \(sequence) is missing")
                    continue
                }
                #expect(String(CRC32C.checksum(record.payload), radix: 16) == digest,
                        "round \(round): sequence \(sequence) was changed")
            }
        }
        #expect(reported.count > 100, "the helper reported only \(reported.count) appends")
        let verify = try await LogFerryProcess.run(["spool", "verify", spool])
        #expect(verify.exit == .exited(0), "\(verify.output)")
    }

    /// Adds a `durable <seq> <digest>` line; a sequence reported twice (by any run) is a reuse.
    static func record(_ line: String, into reported: inout [UInt64: String], round: Int) {
        let parts = line.split(separator: " ")
        guard parts.count == 3, parts[0] == "durable", let sequence = UInt64(parts[1]) else { return }
        if let earlier = reported[sequence] {
            Issue.record("round \(round): sequence \(sequence) reused (digest \(earlier), now \(parts[2]))")
        }
        reported[sequence] = String(parts[2])
    }

    @Test("disk full (RLIMIT_FSIZE, EFBIG): the append fails cleanly, nothing earlier is lost, appends work again")
    func diskFull() async throws {
        let directory = try TemporaryDirectory("full")
        defer { directory.remove() }
        let spool = directory.file("spool")
        let child = try LogFerryProcess([
            "spool", "crash-helper", spool, "--tasks", "1", "--count", "40", "--payload-bytes", "1500",
            "--segment-bytes", "1000000", "--file-size-limit", "30000",
        ])
        var reported: [UInt64: String] = [:]
        var refusals = 0
        for line in await child.remainingLines() {
            if line.hasPrefix("nospace") { refusals += 1 }
            Self.record(line, into: &reported, round: 0)
        }
        #expect(await child.wait() == .exited(0))
        #expect(refusals == 2)
        #expect(reported.count == 40)
        let stored = try await Self.storedRecords(spool)
        #expect(stored.count == 40)
        for (sequence, digest) in reported {
            #expect(stored[sequence].map { String(CRC32C.checksum($0.payload), radix: 16) } == digest)
        }
        let verify = try await LogFerryProcess.run(["spool", "verify", spool])
        #expect(verify.exit == .exited(0), "\(verify.output)")
    }

    @Test("a second process cannot open a spool in use; the error names the holder's pid")
    func lockAcrossProcesses() async throws {
        let directory = try TemporaryDirectory("lock")
        defer { directory.remove() }
        let spool = try await Spool.open(SpoolConfiguration(directory: directory.file("spool")), logger: Self.quiet)
        let child = try LogFerryProcess(["spool", "crash-helper", directory.file("spool"), "--count", "1"],
                                        stderrPath: directory.file("stderr"))
        let exit = await child.wait()
        #expect(exit != .exited(0))
        #expect(child.standardError.contains("in use by process \(getpid())"), "\(child.standardError)")
        let inspect = try await LogFerryProcess.run(["spool", "inspect", directory.file("spool"), "--json"])
        #expect(inspect.output.contains("\"lockHolderPID\" : \(getpid())"))
        await spool.close()
    }
}
