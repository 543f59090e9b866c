/// Finds the records in the bytes of a segment, and the damaged stretches between them.
///
/// A record is accepted when its magic, lengths and CRC32C are right and its sequence is above the previous
/// record's (and not below the segment's first sequence). After damage the scanner looks for the next offset
/// where such a record starts, so one flipped bit (even in a length field) costs one record, not the rest of
/// the segment.
enum SegmentScanner {
    /// A damaged stretch of a segment.
    struct Damage: Equatable, Sendable {
        /// Offset of the first damaged byte in the file.
        var offset: Int
        /// Bytes up to the next good record, or to the end.
        var length: Int
        /// What is wrong, for the operator.
        var reason: String
        /// The stretch starts with a complete record (right magic, lengths inside the file) whose CRC fails.
        var isCompleteRecord: Bool
    }

    struct Result: Sendable {
        /// Offset just past the last good record (the header size when there is none).
        var validEnd: Int
        var recordCount = 0
        var firstSequence: UInt64?
        var lastSequence: UInt64?
        /// Damaged stretches followed by a good record.
        var damages: [Damage] = []
        /// A damaged stretch running to the end of the bytes (a torn tail, when this is the newest segment).
        var trailing: Damage?

        /// Counts the good record `header`, which ends at `end`.
        mutating func count(_ header: RecordFrame.Header, endingAt end: Int) {
            validEnd = end
            recordCount += 1
            lastSequence = header.sequence
            if firstSequence == nil { firstSequence = header.sequence }
        }
    }

    /// Scans `bytes` (a whole segment file) from `start`.
    static func scan(_ bytes: UnsafeRawBufferPointer, from start: Int, minimumSequence: UInt64) -> Result {
        var result = Result(validEnd: min(start, bytes.count))
        var offset = start
        var previous: UInt64? = nil
        while offset < bytes.count {
            if let header = validRecord(in: bytes, at: offset, after: previous, minimumSequence: minimumSequence) {
                offset += header.recordBytes
                previous = header.sequence
                result.count(header, endingAt: offset)
                continue
            }
            let reason = describeDamage(in: bytes, at: offset)
            if let next = nextRecord(in: bytes, from: offset + 1, after: previous, minimumSequence: minimumSequence) {
                result.damages.append(Damage(offset: offset, length: next - offset, reason: reason.text,
                                             isCompleteRecord: reason.complete))
                offset = next
            } else {
                result.trailing = Damage(offset: offset, length: bytes.count - offset, reason: reason.text,
                                         isCompleteRecord: reason.complete)
                break
            }
        }
        return result
    }

    /// The header of a good record at `offset`, or `nil`.
    static func validRecord(
        in bytes: UnsafeRawBufferPointer, at offset: Int, after previous: UInt64?, minimumSequence: UInt64
    ) -> RecordFrame.Header? {
        guard offset + RecordFrame.headerBytes <= bytes.count,
              let header = RecordFrame.parseHeader(UnsafeRawBufferPointer(rebasing: bytes[offset...])),
              offset + header.recordBytes <= bytes.count,
              header.sequence >= minimumSequence,
              previous.map({ header.sequence > $0 }) ?? true,
              RecordFrame.checksumMatches(header, record: UnsafeRawBufferPointer(rebasing: bytes[offset...]))
        else { return nil }
        return header
    }

    /// The offset of the next good record at or after `from`, or `nil`.
    static func nextRecord(
        in bytes: UnsafeRawBufferPointer, from: Int, after previous: UInt64?, minimumSequence: UInt64
    ) -> Int? {
        let magic = RecordFrame.magic
        var offset = from
        let last = bytes.count - RecordFrame.headerBytes
        while offset <= last {
            if bytes[offset] == magic[0], bytes[offset + 1] == magic[1], bytes[offset + 2] == magic[2],
               bytes[offset + 3] == magic[3],
               validRecord(in: bytes, at: offset, after: previous, minimumSequence: minimumSequence) != nil {
                return offset
            }
            offset += 1
        }
        return nil
    }

    static func describeDamage(in bytes: UnsafeRawBufferPointer, at offset: Int) -> (text: String, complete: Bool) {
        let remaining = bytes.count - offset
        if remaining < RecordFrame.headerBytes {
            return ("\(remaining) bytes, too short for a record header", false)
        }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset...])
        if slice.prefix(RecordFrame.headerBytes).allSatisfy({ $0 == 0 }) {
            return ("zero bytes where a record header should be", false)
        }
        guard let header = RecordFrame.parseHeader(slice) else {
            if slice.prefix(4).elementsEqual(RecordFrame.magic) {
                return ("record header with impossible lengths (garbage length field)", false)
            }
            return ("no record header (wrong magic)", false)
        }
        if header.recordBytes > remaining {
            return ("record of \(header.recordBytes) bytes (sequence \(header.sequence)) runs past the end "
                + "(\(remaining) bytes left)", false)
        }
        if !RecordFrame.checksumMatches(header, record: slice) {
            return ("CRC32C mismatch in the record of \(header.recordBytes) bytes, sequence \(header.sequence)", true)
        }
        return ("record with sequence \(header.sequence) out of order", true)
    }
}
