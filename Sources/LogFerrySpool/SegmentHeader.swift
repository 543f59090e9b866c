import LogFerryBytes

/// The 48 bytes at the start of every segment file (Docs/SPOOL.md, "Segment file").
///
/// ```
/// offset size field
///      0    8 magic "LFSPSEG1"
///      8   16 spool id
///     24    8 first sequence (the file's name), UInt64 little-endian
///     32    8 first sequence of the segment before this one when it was made (0: none), UInt64 little-endian
///     40    4 CRC32C of bytes 0..<40, UInt32 little-endian
///     44    4 zero (reserved)
/// ```
/// The spool id lets a lost `spool.meta` be rebuilt; the previous segment's name lets a reader tell a missing
/// middle segment (a gap, reported) from a deleted one.
struct SegmentHeader: Equatable {
    static let bytes = 48
    static let magic = Array("LFSPSEG1".utf8)

    var spoolID: SpoolID
    var firstSequence: UInt64
    var previousFirstSequence: UInt64

    func encoded() -> [UInt8] {
        var out = Self.magic
        out.reserveCapacity(Self.bytes)
        out.append(contentsOf: spoolID.bytes)
        out.appendLittleEndian(firstSequence)
        out.appendLittleEndian(previousFirstSequence)
        out.appendLittleEndian(CRC32C.checksum(out))
        out.appendLittleEndian(UInt32(0))
        return out
    }

    /// Parses and checks a header; `nil` when short, of another format, or failing its CRC.
    init?(parsing bytes: [UInt8]) {
        guard bytes.count >= Self.bytes, Array(bytes[0..<8]) == Self.magic,
              CRC32C.checksum(bytes[0..<40]) == bytes.readLittleEndian(UInt32.self, at: 40)
        else { return nil }
        self.spoolID = SpoolID(uncheckedBytes: Array(bytes[8..<24]))
        self.firstSequence = bytes.readLittleEndian(UInt64.self, at: 24)
        self.previousFirstSequence = bytes.readLittleEndian(UInt64.self, at: 32)
    }

    init(spoolID: SpoolID, firstSequence: UInt64, previousFirstSequence: UInt64) {
        self.spoolID = spoolID
        self.firstSequence = firstSequence
        self.previousFirstSequence = previousFirstSequence
    }
}
