extension SegmentScanner {
    /// Bytes read at a time by ``scanClean(_:size:path:from:minimumSequence:window:)``.
    static let cleanScanWindow = 4 << 20

    /// Scans the segment file `fd` (`size` bytes) a window at a time, so recovery holds one window (or one record,
    /// when a record is larger) instead of the whole segment: reading a 64 MiB newest segment whole made an agent
    /// restarted with a backlog peak at twice its usual memory.
    ///
    /// Returns the same result as ``scan(_:from:minimumSequence:)`` when the segment is nothing but valid records
    /// up to its end, the usual case. Returns nil as soon as it meets anything else — damage, a torn or zeroed
    /// tail — for the whole-file scan to describe, quarantine and cut.
    static func scanClean(
        _ fd: Int32, size: Int, path: String, from start: Int, minimumSequence: UInt64, window: Int = cleanScanWindow
    ) throws(POSIXError) -> Result? {
        var result = Result(validEnd: min(start, size))
        var offset = start
        var previous: UInt64?
        var buffer: [UInt8] = []
        var bufferStart = start
        while offset < size {
            // The record header at `offset`, reading the next window when the buffer does not hold it.
            if offset + RecordFrame.headerBytes > bufferStart + buffer.count {
                buffer = try POSIXFile.read(fd, count: min(window, size - offset), at: Int64(offset), path: path)
                bufferStart = offset
            }
            let header = buffer.withUnsafeBytes { bytes in
                offset - bufferStart + RecordFrame.headerBytes <= bytes.count
                    ? RecordFrame.parseHeader(UnsafeRawBufferPointer(rebasing: bytes[(offset - bufferStart)...])) : nil
            }
            guard let header, offset + header.recordBytes <= size else { return nil }
            // The whole record, reading from its start when it runs past the buffer.
            if offset + header.recordBytes > bufferStart + buffer.count {
                buffer = try POSIXFile.read(
                    fd, count: max(header.recordBytes, min(window, size - offset)), at: Int64(offset), path: path)
                bufferStart = offset
            }
            let valid = buffer.withUnsafeBytes { bytes in
                validRecord(in: bytes, at: offset - bufferStart, after: previous, minimumSequence: minimumSequence)
            }
            guard let valid else { return nil }
            offset += valid.recordBytes
            previous = valid.sequence
            result.count(valid, endingAt: offset)
        }
        return result
    }
}
