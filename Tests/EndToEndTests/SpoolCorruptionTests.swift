import Foundation
import LogFerrySpool
import LogFerryTestSupport
import Testing

/// Corruption tests: damage a spool's files the way disks and crashes do, then check that `logferry spool verify`
/// reports it by segment and offset, and that the spool still opens and serves every intact record.
@Suite("Spool corruption tests")
struct SpoolCorruptionTests {
    /// 30 records of 300-byte payloads; 324-byte records, 7 per 2000-byte segment: segments 1, 8, 15, 22, 29.
    static let recordBytes = 324
    static func payloadFor(_ n: UInt64) -> [UInt8] { (0..<300).map { UInt8(truncatingIfNeeded: Int(n) &* 13 &+ $0) } }

    struct Fixture {
        let directory: TemporaryDirectory
        var spool: String { directory.file("spool") }
        var configuration: SpoolConfiguration { SpoolConfiguration(directory: spool, segmentBytes: 2000) }
        func segment(_ first: Int) -> String {
            "spool/segments/" + String(repeating: "0", count: 20 - String(first).count) + "\(first).seg"
        }
        /// Offset of the k-th record (0-based) in a segment.
        func offset(record k: Int) -> Int { 48 + k * SpoolCorruptionTests.recordBytes }

        func flip(_ file: String, at offset: Int, mask: UInt8 = 0x04) throws {
            var bytes = try directory.read(file)
            bytes[offset] ^= mask
            try directory.write(file, bytes)
        }

        func verify() async throws -> (exit: LogFerryProcess.Exit, report: SpoolVerifyReport) {
            let run = try await LogFerryProcess.run(["spool", "verify", spool, "--json"])
            let report = try JSONDecoder().decode(SpoolVerifyReport.self, from: Data(run.output.utf8))
            return (run.exit, report)
        }

        /// Opens the spool and reads every record, returning the sequences (payloads checked) and statistics.
        func readBack() async throws -> (sequences: [UInt64], statistics: SpoolStatistics) {
            let spool = try await Spool.open(configuration, logger: SpoolCrashTests.quiet)
            let reader = spool.makeReader(from: 1)
            var sequences: [UInt64] = []
            while let record = try await reader.nextIfAvailable() {
                #expect(record.payload == SpoolCorruptionTests.payloadFor(record.sequence))
                sequences.append(record.sequence)
            }
            let statistics = await spool.statistics()
            await spool.close()
            return (sequences, statistics)
        }
    }

    static func makeFixture() async throws -> Fixture {
        let fixture = Fixture(directory: try TemporaryDirectory("corrupt"))
        let spool = try await Spool.open(fixture.configuration, logger: SpoolCrashTests.quiet)
        for n in 1...30 { _ = try await spool.append(payloadFor(UInt64(n))) }
        _ = try await spool.cursor(named: "sink")
        await spool.close()
        #expect(fixture.directory.list("spool/segments").count == 5)
        return fixture
    }

    static let all = Array(UInt64(1)...30)

    @Test("truncated tail: a torn last record is a warning, truncated on open; the rest is served")
    func truncatedTail() async throws {
        let fixture = try await Self.makeFixture()
        defer { fixture.directory.remove() }
        var bytes = try fixture.directory.read(fixture.segment(29))
        bytes.removeLast(50)
        try fixture.directory.write(fixture.segment(29), bytes)
        let (exit, report) = try await fixture.verify()
        #expect(exit == .exited(0))
        #expect(report.warnings.map(\.kind) == ["torn-tail"])
        #expect(report.warnings.first?.offset == fixture.offset(record: 1))
        #expect(try await fixture.readBack().sequences == Array(1...29))
    }

    @Test("zero-filled tail: trailing zero blocks are truncated; every record is served")
    func zeroFilledTail() async throws {
        let fixture = try await Self.makeFixture()
        defer { fixture.directory.remove() }
        let bytes = try fixture.directory.read(fixture.segment(29))
        try fixture.directory.write(fixture.segment(29), bytes + [UInt8](repeating: 0, count: 4096))
        let (exit, report) = try await fixture.verify()
        #expect(exit == .exited(0))
        #expect(report.warnings.first?.kind == "torn-tail")
        #expect(try await fixture.readBack().sequences == Self.all)
        #expect(try fixture.directory.read(fixture.segment(29)).count == bytes.count)
    }

    @Test("bit flip in a payload: verify names segment and offset; the record is skipped and quarantined")
    func payloadBitFlip() async throws {
        let fixture = try await Self.makeFixture()
        defer { fixture.directory.remove() }
        try fixture.flip(fixture.segment(8), at: fixture.offset(record: 2) + 100)  // sequence 10
        let (exit, report) = try await fixture.verify()
        #expect(exit == .exited(1))
        #expect(report.problems.count == 1)
        #expect(report.problems.first?.file == "00000000000000000008.seg")
        #expect(report.problems.first?.offset == fixture.offset(record: 2))
        #expect(report.problems.first?.kind == "crc")
        let (sequences, statistics) = try await fixture.readBack()
        #expect(sequences == Self.all.filter { $0 != 10 })
        #expect(statistics.quarantinedRecords == 1)
        #expect(fixture.directory.list("spool/quarantine") == ["00000000000000000008.seg-\(fixture.offset(record: 2)).bad"])
        // Read again: the same damage is not counted twice.
        #expect(try await fixture.readBack().statistics.quarantinedRecords == 1)
    }

    @Test("bit flip in a length field: the reader resynchronises and serves every other record")
    func lengthBitFlip() async throws {
        let fixture = try await Self.makeFixture()
        defer { fixture.directory.remove() }
        try fixture.flip(fixture.segment(15), at: fixture.offset(record: 3) + 9, mask: 0x40)  // sequence 18
        let (exit, report) = try await fixture.verify()
        #expect(exit == .exited(1))
        #expect(report.problems.first?.file == "00000000000000000015.seg")
        #expect(report.problems.first?.offset == fixture.offset(record: 3))
        let (sequences, statistics) = try await fixture.readBack()
        #expect(sequences == Self.all.filter { $0 != 18 })
        #expect(statistics.quarantinedRecords == 1)
    }

    @Test("bit flip in the newest segment: quarantined on open, later records kept")
    func tailBitFlip() async throws {
        let fixture = try await Self.makeFixture()
        defer { fixture.directory.remove() }
        try fixture.flip(fixture.segment(22), at: fixture.offset(record: 1) + 200)  // sequence 23, not the newest segment
        try fixture.flip(fixture.segment(29), at: fixture.offset(record: 0) + 40)   // sequence 29, followed by 30
        let (sequences, statistics) = try await fixture.readBack()
        #expect(sequences == Self.all.filter { $0 != 23 && $0 != 29 })
        #expect(statistics.quarantinedRecords == 2)
    }

    @Test("bit flip in a cursor file and in spool.meta: reported, the spool opens, id and cursor rebuilt")
    func stateFileBitFlip() async throws {
        let fixture = try await Self.makeFixture()
        defer { fixture.directory.remove() }
        let id = try #require(SpoolInspector.inspect(directory: fixture.spool).spoolID)
        try fixture.flip("spool/cursors/sink.cursor", at: 14)
        try fixture.flip("spool/spool.meta", at: 20)
        let (exit, report) = try await fixture.verify()
        #expect(exit == .exited(1))
        #expect(report.problems.map(\.kind) == ["state", "state"])
        let spool = try await Spool.open(fixture.configuration, logger: SpoolCrashTests.quiet)
        #expect(spool.id.description == id)
        #expect(try await spool.cursor(named: "sink").committed == 0)
        guard case .stored(let next) = try await spool.append([1]) else { return }
        #expect(next > 30)
        #expect(await spool.statistics().quarantinedRecords == 2)
        await spool.close()
    }

    @Test("missing spool.meta: rebuilt from the segments with the same id; every record served")
    func missingStateFile() async throws {
        let fixture = try await Self.makeFixture()
        defer { fixture.directory.remove() }
        let id = try #require(SpoolInspector.inspect(directory: fixture.spool).spoolID)
        try FileManager.default.removeItem(atPath: fixture.directory.file("spool/spool.meta"))
        let spool = try await Spool.open(fixture.configuration, logger: SpoolCrashTests.quiet)
        #expect(spool.id.description == id)
        await spool.close()
        #expect(try await fixture.readBack().sequences == Self.all)
    }

    @Test("missing middle segment: verify reports the gap; reading goes on past it and counts it")
    func missingMiddleSegment() async throws {
        let fixture = try await Self.makeFixture()
        defer { fixture.directory.remove() }
        try FileManager.default.removeItem(atPath: fixture.directory.file(fixture.segment(15)))
        let (exit, report) = try await fixture.verify()
        #expect(exit == .exited(1))
        #expect(report.problems.map(\.kind) == ["gap"])
        #expect(report.problems.first?.file == "00000000000000000022.seg")
        let (sequences, statistics) = try await fixture.readBack()
        #expect(sequences == Self.all.filter { !(15...21).contains($0) })
        #expect(statistics.gaps == 1)
    }
}
