import Glibc
import LogFerryTestSupport
import Testing
import LogFerryBytes
@testable import LogFerrySpool

@Suite("Record framing and state files")
struct RecordFrameTests {
    @Test("a record is laid out byte for byte as Docs/SPOOL.md says")
    func layout() {
        var bytes: [UInt8] = []
        RecordFrame.encode(sequence: 0x0102_0304_0506_0708, metadata: [0xAA, 0xBB], payload: [1, 2, 3], into: &bytes)
        #expect(bytes.count == 24 + 2 + 3)
        #expect(Array(bytes[0..<4]) == Array("LFRC".utf8))
        #expect(Array(bytes[4..<8]) == [2, 0, 0, 0])
        #expect(Array(bytes[8..<12]) == [3, 0, 0, 0])
        #expect(Array(bytes[12..<20]) == [8, 7, 6, 5, 4, 3, 2, 1])
        let crc = CRC32C.checksum(Array(bytes[0..<20]) + [0xAA, 0xBB, 1, 2, 3])
        #expect(bytes.readLittleEndian(UInt32.self, at: 20) == crc)
        #expect(Array(bytes[24...]) == [0xAA, 0xBB, 1, 2, 3])
    }

    @Test("round trip, and every single bit flip is caught")
    func bitFlips() throws {
        var bytes: [UInt8] = []
        RecordFrame.encode(sequence: 42, metadata: [9, 8, 7], payload: payload(1, size: 40), into: &bytes)
        let decoded = try bytes.withUnsafeBytes { buffer -> SpoolRecord in
            let header = try #require(RecordFrame.parseHeader(buffer))
            #expect(RecordFrame.checksumMatches(header, record: buffer))
            return RecordFrame.decode(header, record: buffer)
        }
        #expect(decoded == SpoolRecord(sequence: 42, metadata: [9, 8, 7], payload: payload(1, size: 40)))
        for bit in 0..<(bytes.count * 8) {
            var damaged = bytes
            damaged[bit / 8] ^= UInt8(1 << (bit % 8))
            let accepted = damaged.withUnsafeBytes {
                SegmentScanner.validRecord(in: $0, at: 0, after: nil, minimumSequence: 0) != nil
            }
            #expect(!accepted, "bit \(bit) flipped went unnoticed")
        }
    }

    @Test("the scanner resynchronises after a damaged length field and reports a torn tail")
    func scannerResync() {
        var bytes = [UInt8](repeating: 0, count: SegmentHeader.bytes)
        var offsets: [Int] = []
        for n in 1...5 {
            offsets.append(bytes.count)
            RecordFrame.encode(sequence: UInt64(n), metadata: [], payload: payload(n, size: 50), into: &bytes)
        }
        bytes[offsets[1] + 9] ^= 0x40  // payload length of record 2
        bytes.append(contentsOf: [0x4C, 0x46, 0x52])  // a torn start of a record
        let result = bytes.withUnsafeBytes { SegmentScanner.scan($0, from: SegmentHeader.bytes, minimumSequence: 1) }
        #expect(result.recordCount == 4)
        #expect(result.damages.map(\.offset) == [offsets[1]])
        #expect(result.damages.first?.length == offsets[2] - offsets[1])
        #expect(result.trailing?.offset == bytes.count - 3)
        #expect(result.lastSequence == 5)
    }

    @Test("the windowed scan of a clean segment equals the whole scan, records across windows included; damage or a torn tail gives nil")
    func cleanScan() throws {
        let directory = try TemporaryDirectory("clean-scan")
        defer { directory.remove() }
        var bytes = [UInt8](repeating: 0, count: SegmentHeader.bytes)
        var offsets: [Int] = []
        for n in 1...40 {
            offsets.append(bytes.count)
            // Sizes from 10 to 2,000 bytes: many records straddle a 512-byte window, some are larger than it.
            RecordFrame.encode(sequence: UInt64(n), metadata: [UInt8(n)], payload: payload(n, size: (n * 211) % 2_000 + 10), into: &bytes)
        }
        func scans(_ bytes: [UInt8]) throws -> (whole: SegmentScanner.Result, clean: SegmentScanner.Result?) {
            let path = directory.file("segment")
            try POSIXFile.writeWholeFile(path, bytes)
            let fd = try POSIXFile.open(path, O_RDONLY)
            defer { POSIXFile.close(fd) }
            let clean = try SegmentScanner.scanClean(
                fd, size: bytes.count, path: path, from: SegmentHeader.bytes, minimumSequence: 1, window: 512)
            let whole = bytes.withUnsafeBytes { SegmentScanner.scan($0, from: SegmentHeader.bytes, minimumSequence: 1) }
            return (whole, clean)
        }
        let (whole, clean) = try scans(bytes)
        let result = try #require(clean)
        #expect(result.recordCount == 40 && whole.recordCount == 40)
        #expect(result.validEnd == whole.validEnd && result.validEnd == bytes.count)
        #expect(result.firstSequence == 1 && result.lastSequence == 40 && whole.lastSequence == 40)
        #expect(result.damages.isEmpty && result.trailing == nil)

        var damaged = bytes
        damaged[offsets[17] + 30] ^= 0x01
        #expect(try scans(damaged).clean == nil)
        #expect(try scans(Array(bytes.dropLast(5))).clean == nil)          // a torn last record
        #expect(try scans(bytes + [UInt8](repeating: 0, count: 100)).clean == nil)  // a zeroed tail
        // Only the header: an empty segment, like the whole scan.
        let empty = try scans(Array(bytes.prefix(SegmentHeader.bytes)))
        #expect(empty.clean?.recordCount == 0 && empty.clean?.validEnd == SegmentHeader.bytes)
    }

    @Test("state files: checksummed, atomic replace, damage detected")
    func stateFiles() throws {
        let directory = try TemporaryDirectory("spool")
        defer { directory.remove() }
        let path = directory.file("x.state")
        #expect(StateFile.read(path) == .missing)
        try StateFile.write([1, 2, 3], to: path, durable: true)
        try StateFile.write([4, 5, 6, 7], to: path, durable: true)
        #expect(StateFile.read(path) == .body([4, 5, 6, 7]))
        var bytes = try POSIXFile.readWholeFile(path)
        bytes[13] ^= 1
        try POSIXFile.writeWholeFile(path, bytes)
        guard case .corrupt = StateFile.read(path) else {
            Issue.record("a flipped bit in a state file was not detected")
            return
        }
    }

    @Test("fsync policy parsing")
    func fsyncParsing() {
        #expect(FsyncPolicy(parsing: "always") == .always)
        #expect(FsyncPolicy(parsing: "never") == .never)
        #expect(FsyncPolicy(parsing: "interval") == .interval(milliseconds: 1000))
        #expect(FsyncPolicy(parsing: "interval:250") == .interval(milliseconds: 250))
        #expect(FsyncPolicy(parsing: "interval:0") == nil)
        #expect(FsyncPolicy(parsing: "sometimes") == nil)
        #expect(CapacityPolicy(rawValue: "drop-oldest") == .dropOldest)
    }

    @Test("spool ids: 16 bytes, 32 hex digits, round trip")
    func spoolIDs() throws {
        let id = SpoolID.random()
        #expect(id.description.count == 32)
        #expect(SpoolID(hex: id.description) == id)
        #expect(SpoolID(hex: id.description.uppercased()) == id)
        #expect(SpoolID(bytes: [1, 2]) == nil)
        #expect(SpoolID(hex: "zz" + String(repeating: "0", count: 30)) == nil)
        #expect(SpoolID.random() != id)
    }
}
