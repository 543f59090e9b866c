import LogFerryBytes

/// The on-disk framing of one record in a segment (Docs/SPOOL.md, "Record").
///
/// ```
/// offset size field
///      0    4 magic "LFRC" (0x4C 0x46 0x52 0x43)
///      4    4 metadata length, UInt32 little-endian
///      8    4 payload length, UInt32 little-endian
///     12    8 sequence, UInt64 little-endian
///     20    4 CRC32C of bytes 0..<20, then the metadata, then the payload; UInt32 little-endian
///     24    m metadata
///   24+m    p payload
/// ```
/// The magic lets a reader find the next record after damaged bytes; the CRC covers every other byte.
public enum RecordFrame {
    /// Bytes before the metadata.
    public static let headerBytes = 24
    /// "LFRC".
    public static let magic: [UInt8] = [0x4C, 0x46, 0x52, 0x43]
    /// The largest metadata area a record may carry.
    public static let maximumMetadataBytes = 1 << 20
    /// The largest record the format allows (header + metadata + payload); larger length fields are garbage.
    public static let maximumRecordBytes = 256 << 20

    /// The fields of a header that passed its structural checks (magic, lengths); the CRC is checked separately.
    struct Header: Equatable {
        var metadataLength: Int
        var payloadLength: Int
        var sequence: UInt64
        var checksum: UInt32
        var recordBytes: Int { RecordFrame.headerBytes + metadataLength + payloadLength }
    }

    /// Appends one framed record to `buffer`.
    static func encode(sequence: UInt64, metadata: [UInt8], payload: [UInt8], into buffer: inout [UInt8]) {
        buffer.reserveCapacity(buffer.count + headerBytes + metadata.count + payload.count)
        buffer.append(contentsOf: header(sequence: sequence, metadata: metadata, payload: payload))
        buffer.append(contentsOf: metadata)
        buffer.append(contentsOf: payload)
    }

    /// The 24 header bytes of a record (its CRC covers them, the metadata and the payload); the append path
    /// writes them, the metadata and the payload with one `pwritev`, without copying the payload.
    static func header(sequence: UInt64, metadata: [UInt8], payload: [UInt8]) -> [UInt8] {
        header(sequence: sequence, metadata: metadata, payloadParts: [payload])
    }

    /// ``header(sequence:metadata:payload:)`` for a payload given as parts written back to back (a sealed batch's
    /// header and its compressed bytes), so the parts need not be joined into one buffer first.
    static func header(sequence: UInt64, metadata: [UInt8], payloadParts: [[UInt8]]) -> [UInt8] {
        var header: [UInt8] = []
        header.reserveCapacity(headerBytes)
        header.append(contentsOf: magic)
        header.appendLittleEndian(UInt32(metadata.count))
        header.appendLittleEndian(UInt32(payloadParts.reduce(0) { $0 + $1.count }))
        header.appendLittleEndian(sequence)
        var crc = header.withUnsafeBytes { CRC32C.checksum($0) }
        crc = metadata.withUnsafeBytes { CRC32C.checksum($0, continuing: crc) }
        for part in payloadParts {
            crc = part.withUnsafeBytes { CRC32C.checksum($0, continuing: crc) }
        }
        header.appendLittleEndian(crc)
        return header
    }

    /// Parses the 24 header bytes at the start of `bytes`; `nil` when the magic or a length is impossible.
    static func parseHeader(_ bytes: UnsafeRawBufferPointer) -> Header? {
        guard bytes.count >= headerBytes,
              bytes[0] == magic[0], bytes[1] == magic[1], bytes[2] == magic[2], bytes[3] == magic[3]
        else { return nil }
        let metadataLength = Int(bytes.readLittleEndian(UInt32.self, at: 4))
        let payloadLength = Int(bytes.readLittleEndian(UInt32.self, at: 8))
        guard metadataLength <= maximumMetadataBytes,
              headerBytes + metadataLength + payloadLength <= maximumRecordBytes
        else { return nil }
        return Header(
            metadataLength: metadataLength,
            payloadLength: payloadLength,
            sequence: bytes.readLittleEndian(UInt64.self, at: 12),
            checksum: bytes.readLittleEndian(UInt32.self, at: 20)
        )
    }

    /// Whether the whole record at the start of `bytes` (header, metadata, payload) matches its CRC.
    static func checksumMatches(_ header: Header, record bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= header.recordBytes else { return false }
        var crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<20]))
        crc = CRC32C.checksum(
            UnsafeRawBufferPointer(rebasing: bytes[headerBytes..<header.recordBytes]), continuing: crc)
        return crc == header.checksum
    }

    /// Decodes a complete, checked record from `bytes` (which starts with its header).
    static func decode(_ header: Header, record bytes: UnsafeRawBufferPointer) -> SpoolRecord {
        let metadataEnd = headerBytes + header.metadataLength
        return SpoolRecord(
            sequence: header.sequence,
            metadata: Array(bytes[headerBytes..<metadataEnd]),
            payload: Array(bytes[metadataEnd..<header.recordBytes])
        )
    }
}
