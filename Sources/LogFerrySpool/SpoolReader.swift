import Glibc
import LogFerryBytes

/// Reads a spool's records in sequence order, from a given sequence on.
///
/// Made by `Spool.makeReader(from:)`; meant for one task at a time. `next()` waits at the tail until the next
/// append makes a record readable (no polling), throws `CancellationError` when its task is cancelled, and
/// returns `nil` once the spool is closed. A reader only returns records that are durable under the fsync
/// policy. Damaged records are skipped, counted and copied to `quarantine/`; a missing segment is reported as a
/// gap and reading goes on.
public actor SpoolReader {
    private let spool: Spool
    private let layout: SpoolLayout
    /// The lowest sequence the next returned record may have.
    private var nextSequence: UInt64
    private var segment: OpenSegment?
    private var snapshot: Spool.ReadSnapshot?
    private var finished = false

    private struct OpenSegment {
        var fd: Int32
        var first: UInt64
        var path: String
        var offset: Int64
        var lastSequence: UInt64?
        /// The file size when last looked at; refreshed when the reader reaches it.
        var knownSize: Int64 = 0
    }

    init(spool: Spool, layout: SpoolLayout, from sequence: UInt64) {
        self.spool = spool
        self.layout = layout
        self.nextSequence = max(sequence, 1)
    }

    deinit {
        if let segment { POSIXFile.close(segment.fd) }
    }

    /// The next record, waiting at the tail for one; `nil` once the spool is closed.
    public func next() async throws -> SpoolRecord? {
        while true {
            try Task.checkCancellation()
            if let record = try await nextIfAvailable() { return record }
            if finished { return nil }
            await spool.waitForRecords(after: snapshot?.lastReadable ?? 0)
        }
    }

    /// The next record if one is readable now; `nil` at the tail (or once the spool is closed), without waiting.
    public func nextIfAvailable() async throws -> SpoolRecord? {
        if finished { return nil }
        if snapshot == nil { try await refresh() }
        var refreshed = false
        while true {
            switch try await step() {
            case .record(let record):
                return record
            case .skipped:
                continue
            case .atEnd:
                if refreshed || finished { return nil }
                try await refresh()
                refreshed = true
            }
        }
    }

    private enum Step {
        case record(SpoolRecord)
        case skipped
        case atEnd
    }

    private func refresh() async throws {
        let snapshot = await spool.readSnapshot(sequence: nextSequence, current: segment?.first)
        self.snapshot = snapshot
        if snapshot.closed {
            finished = true
            closeSegment()
        }
    }

    private func closeSegment() {
        if let segment { POSIXFile.close(segment.fd) }
        segment = nil
    }

    /// One move: return a record, skip one, or report the end of what is readable in this snapshot.
    private func step() async throws -> Step {
        guard let snapshot, !snapshot.closed else { return .atEnd }
        guard var current = segment else {
            guard let first = snapshot.segmentForSequence else { return .atEnd }
            return try await open(first, previous: nil) ? .skipped : .atEnd
        }
        let isTail = current.first == snapshot.tailFirst
        if current.offset >= current.knownSize {
            current.knownSize = (try? POSIXFile.size(current.fd, path: current.path)) ?? 0
            segment = current
        }
        var bound = isTail ? min(snapshot.tailEnd, current.knownSize) : current.knownSize
        if current.offset >= bound {
            if isTail { return .atEnd }
            guard let next = snapshot.segmentAfterCurrent, next > current.first else { return .atEnd }
            // A gap is a segment missing between two the spool still lists; a reader whose own segment was
            // deleted under it (consumed or dropped) only finds that the oldest segments are gone.
            let previous = snapshot.currentIsListed ? current.first : nil
            closeSegment()
            return try await open(next, previous: previous) ? .skipped : .atEnd
        }
        let header = try readBytes(current, count: RecordFrame.headerBytes, at: current.offset)
        let parsedHeader = header.withUnsafeBytes({ RecordFrame.parseHeader($0) })
        if let parsedHeader, current.offset + Int64(parsedHeader.recordBytes) > bound {
            // The cached file size may have been taken while this record was being written: look again
            // before calling a record that the snapshot says is complete damaged.
            current.knownSize = (try? POSIXFile.size(current.fd, path: current.path)) ?? current.knownSize
            segment = current
            bound = isTail ? min(snapshot.tailEnd, current.knownSize) : current.knownSize
            if parsedHeader.sequence > snapshot.lastReadable, current.offset + Int64(parsedHeader.recordBytes) > bound {
                // Not complete yet and not promised by this snapshot: wait for the next one.
                return .atEnd
            }
        }
        guard let parsed = parsedHeader, current.offset + Int64(parsed.recordBytes) <= bound else {
            await damaged(&current, bound: bound)
            return .skipped
        }
        if parsed.sequence > snapshot.lastReadable { return .atEnd }
        // Metadata and payload are read straight into the arrays handed out, and checked there.
        let bodyOffset = current.offset + Int64(RecordFrame.headerBytes)
        let metadata = try readBytes(current, count: parsed.metadataLength, at: bodyOffset)
        let payload = try readBytes(current, count: parsed.payloadLength, at: bodyOffset + Int64(parsed.metadataLength))
        var crc = header.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<20])) }
        crc = metadata.withUnsafeBytes { CRC32C.checksum($0, continuing: crc) }
        crc = payload.withUnsafeBytes { CRC32C.checksum($0, continuing: crc) }
        let valid = crc == parsed.checksum
            && metadata.count == parsed.metadataLength && payload.count == parsed.payloadLength
            && parsed.sequence >= current.first
            && (current.lastSequence.map { parsed.sequence > $0 } ?? true)
        guard valid else {
            await damaged(&current, bound: bound)
            return .skipped
        }
        current.offset += Int64(parsed.recordBytes)
        current.lastSequence = parsed.sequence
        segment = current
        guard parsed.sequence >= nextSequence else { return .skipped }
        nextSequence = parsed.sequence + 1
        return .record(SpoolRecord(sequence: parsed.sequence, metadata: metadata, payload: payload))
    }

    /// Opens segment `first`; reports a gap when its header names a previous segment that is missing.
    private func open(_ first: UInt64, previous: UInt64?) async throws -> Bool {
        let path = layout.segmentPath(first)
        let fd: Int32
        do throws(POSIXError) {
            fd = try POSIXFile.open(path, O_RDONLY)
        } catch where error.code == ENOENT {
            // Deleted since the snapshot (its records were consumed or dropped): look again.
            try await refresh()
            return true
        } catch {
            throw SpoolError(.io(errno: error.code), "cannot open \(path) for reading: \(error)")
        }
        let opened = OpenSegment(fd: fd, first: first, path: path, offset: Int64(SegmentHeader.bytes))
        let headerBytes = (try? POSIXFile.read(fd, count: SegmentHeader.bytes, at: 0, path: path)) ?? []
        if let header = SegmentHeader(parsing: headerBytes) {
            if let previous, header.previousFirstSequence > previous {
                await spool.noteGap(missing: header.previousFirstSequence, before: first)
            }
        } else if headerBytes.count == SegmentHeader.bytes {
            await spool.quarantine(segment: first, offset: 0, bytes: headerBytes,
                                   reason: "damaged segment header; records are read on")
        }
        if nextSequence < first { nextSequence = first }
        segment = opened
        return true
    }

    /// Skips damaged bytes at the current offset up to the next good record (or the end of the readable part),
    /// copying them to quarantine.
    private func damaged(_ current: inout OpenSegment, bound: Int64) async {
        let count = Int(bound - current.offset)
        let bytes = (try? readBytes(current, count: count, at: current.offset)) ?? []
        let skip = bytes.withUnsafeBytes { buffer in
            SegmentScanner.nextRecord(in: buffer, from: 1, after: current.lastSequence, minimumSequence: current.first)
        } ?? bytes.count
        let reason = bytes.withUnsafeBytes { SegmentScanner.describeDamage(in: $0, at: 0).text }
        await spool.quarantine(segment: current.first, offset: Int(current.offset), bytes: Array(bytes.prefix(max(skip, 1))),
                               reason: reason)
        current.offset += Int64(max(skip, 1))
        segment = current
    }

    private func readBytes(_ segment: OpenSegment, count: Int, at offset: Int64) throws -> [UInt8] {
        do throws(POSIXError) {
            return try POSIXFile.read(segment.fd, count: count, at: offset, path: segment.path)
        } catch {
            throw SpoolError(.io(errno: error.code), "cannot read \(segment.path): \(error)")
        }
    }
}
