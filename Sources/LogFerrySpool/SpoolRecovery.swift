import Glibc
import Logging

/// Brings a spool directory to a consistent state when it is opened (Docs/SPOOL.md, "Recovery").
///
/// Only the newest segment is read, so the cost does not grow with the backlog. A torn tail is truncated; damaged
/// records are copied to `quarantine/` and skipped; damaged or missing state files are rebuilt from the segments.
/// Only an unusable directory, permissions or the lock make it throw.
enum SpoolRecovery {
    struct State {
        var id: SpoolID
        var lock: SpoolLock
        var meta: SpoolMeta
        var segments: [SegmentInfo]
        var tail: TailSegment?
        var lastSequence: UInt64
        var nextSequence: UInt64
        var reservedThrough: UInt64
        var cursors: [String: SpoolCursorPosition]
        var quarantined: UInt64
    }

    static func recover(
        configuration: SpoolConfiguration, layout: SpoolLayout, logger: Logger, metrics: SpoolMetrics
    ) throws -> State {
        do {
            try POSIXFile.makeDirectories(layout.directory)
        } catch {
            throw SpoolError(.unusableDirectory, "cannot create the spool directory \(layout.directory): \(error)")
        }
        guard access(layout.directory, R_OK | W_OK | X_OK) == 0 else {
            throw SpoolError(.unusableDirectory, "the spool directory \(layout.directory) is not readable and "
                + "writable by this user (\(POSIXFile.describe(errno: errno))); fix its permissions.")
        }
        let lock = try SpoolLock(path: layout.lockPath)
        do {
            for directory in [layout.segmentsDirectory, layout.cursorsDirectory, layout.stateDirectory,
                              layout.quarantineDirectory] {
                try POSIXFile.makeDirectory(directory)
                for name in try POSIXFile.listDirectory(directory) where name.hasSuffix(".tmp") {
                    try? POSIXFile.unlink(directory + "/" + name)
                }
            }
            try? POSIXFile.unlink(layout.metaPath + ".tmp")
        } catch {
            throw SpoolError(.unusableDirectory, "cannot prepare the spool directory \(layout.directory): \(error)")
        }

        var quarantined = SpoolQuarantine.count(layout: layout)
        func quarantine(_ first: UInt64, _ damage: SegmentScanner.Damage, _ bytes: UnsafeRawBufferPointer) {
            let path = layout.quarantineDirectory + "/" + SpoolQuarantine.name(segment: first, offset: damage.offset)
            guard !POSIXFile.fileExists(path) else { return }
            let copy = Array(bytes[damage.offset..<damage.offset + damage.length])
            try? POSIXFile.writeWholeFile(path, copy)
            quarantined += 1
            metrics.quarantinedRecords.increment()
            logger.error("damaged record skipped and quarantined", metadata: [
                "segment": "\(SpoolLayout.segmentName(first))", "offset": "\(damage.offset)",
                "bytes": "\(damage.length)", "reason": "\(damage.reason)", "copy": "\(path)",
            ])
        }

        // spool.meta
        var meta: SpoolMeta?
        var metaProblem: String?
        switch StateFile.read(layout.metaPath) {
        case .body(let body):
            meta = SpoolMeta(decoding: body)
            if meta == nil { metaProblem = "unknown format version" }
        case .corrupt(let reason):
            metaProblem = reason
        case .missing:
            metaProblem = "missing"
        }
        if meta == nil, POSIXFile.fileExists(layout.metaPath) {
            SpoolQuarantine.moveFile(layout.metaPath, layout: layout, label: "spool.meta")
            quarantined += 1
            metrics.quarantinedRecords.increment()
        }

        // Segments: validate the newest; drop empty newest segments so the tail is the last with records.
        var firsts: [UInt64]
        do {
            firsts = try layout.listSegments()
        } catch {
            throw SpoolError(.unusableDirectory, "cannot list \(layout.segmentsDirectory): \(error)")
        }
        var tail: TailSegment?
        var tailHeader: SegmentHeader?
        var tailLast: UInt64?
        var headerToWrite: (first: UInt64, previous: UInt64)?
        while let first = firsts.last {
            let path = layout.segmentPath(first)
            let bytes: [UInt8]
            do {
                bytes = try POSIXFile.readWholeFile(path)
            } catch {
                throw SpoolError(.unusableDirectory, "cannot read the newest segment \(path): \(error)")
            }
            let header = SegmentHeader(parsing: bytes)
            let scan = bytes.withUnsafeBytes {
                SegmentScanner.scan($0, from: SegmentHeader.bytes, minimumSequence: first)
            }
            bytes.withUnsafeBytes { buffer in
                for damage in scan.damages { quarantine(first, damage, buffer) }
                if let trailing = scan.trailing, trailing.isCompleteRecord { quarantine(first, trailing, buffer) }
            }
            if scan.recordCount == 0 && firsts.count > 1 {
                logger.warning("removing an empty newest segment", metadata: ["path": "\(path)"])
                try? POSIXFile.unlink(path)
                firsts.removeLast()
                continue
            }
            let validEnd = max(scan.validEnd, SegmentHeader.bytes)
            if bytes.count > validEnd {
                let torn = bytes.count - validEnd
                metrics.tornBytes.increment(by: torn)
                logger.warning("truncating a torn tail", metadata: [
                    "path": "\(path)", "offset": "\(validEnd)", "bytes": "\(torn)",
                    "reason": "\(scan.trailing?.reason ?? "incomplete")",
                ])
            }
            if header == nil {
                logger.warning("rewriting a damaged or missing segment header", metadata: ["path": "\(path)"])
                headerToWrite = (first, firsts.count > 1 ? firsts[firsts.count - 2] : 0)
            }
            let fd: Int32
            do {
                fd = try POSIXFile.open(path, O_WRONLY)
                if bytes.count != validEnd { try POSIXFile.truncate(fd, to: Int64(validEnd), path: path) }
            } catch {
                throw SpoolError(.unusableDirectory, "cannot open the newest segment \(path) for writing: \(error)")
            }
            tail = TailSegment(fd: fd, first: first, path: path, writeOffset: Int64(validEnd),
                               recordCount: scan.recordCount)
            tailHeader = header
            tailLast = scan.lastSequence
            break
        }

        // The spool id: from spool.meta, else a segment header, else new.
        var id = meta?.spoolID ?? tailHeader?.spoolID
        if id == nil, let oldest = firsts.first,
           let bytes = try? POSIXFile.readWholeFilePrefix(layout.segmentPath(oldest), count: SegmentHeader.bytes) {
            id = SegmentHeader(parsing: bytes)?.spoolID
        }
        let fresh = meta == nil && firsts.isEmpty
        let spoolID = id ?? SpoolID.random()
        if meta == nil && !fresh {
            logger.error("spool.meta \(metaProblem ?? "unreadable"): rebuilt from the segments",
                         metadata: ["spool_id": "\(spoolID)", "recovered_id": "\(id != nil)"])
        }
        if let (first, previous) = headerToWrite, let tail {
            let header = SegmentHeader(spoolID: spoolID, firstSequence: first, previousFirstSequence: previous)
            try? POSIXFile.write(tail.fd, header.encoded(), at: 0, path: tail.path)
        }

        // Cursors.
        var cursors: [String: SpoolCursorPosition] = [:]
        var damagedCursors: [String] = []
        let cursorNames = ((try? POSIXFile.listDirectory(layout.cursorsDirectory)) ?? [])
            .filter { $0.hasSuffix(SpoolLayout.cursorSuffix) }
            .map { String($0.dropLast(SpoolLayout.cursorSuffix.count)) }
            .filter(SpoolLayout.isValidName)
        for name in cursorNames {
            let path = layout.cursorPath(name)
            if case .body(let body) = StateFile.read(path), let position = SpoolCursorPosition(decoding: body) {
                cursors[name] = position
            } else {
                logger.error("damaged cursor file: the cursor restarts at the oldest stored record", metadata: [
                    "cursor": "\(name)", "path": "\(path)",
                ])
                SpoolQuarantine.moveFile(path, layout: layout, label: "cursor-\(name)")
                quarantined += 1
                metrics.quarantinedRecords.increment()
                damagedCursors.append(name)
            }
        }

        // Sequences: above everything stored, committed or reserved; with spool.meta lost, a margin on top.
        var lastSequence = tailLast ?? (tail.map { $0.first &- 1 } ?? 0)
        lastSequence = max(lastSequence, cursors.values.map(\.committed).max() ?? 0)
        var nextSequence = max(lastSequence + 1, (meta?.reservedThrough ?? 0) + 1, tail?.first ?? 1)
        if meta == nil && !fresh { nextSequence += 2 * Spool.reservationBlock }
        let reservedThrough = nextSequence - 1 + Spool.reservationBlock
        var newMeta = meta ?? SpoolMeta(spoolID: spoolID, reservedThrough: reservedThrough)
        newMeta.reservedThrough = reservedThrough
        var written = reservedThrough
        do {
            try StateFile.write(newMeta.encoded(), to: layout.metaPath, durable: true)
        } catch {
            logger.error("cannot write spool.meta on open; appends will retry", metadata: ["error": "\(error)"])
            written = nextSequence - 1
        }

        let firstSequence = min(firsts.first ?? (lastSequence + 1), lastSequence + 1)
        for name in damagedCursors {
            let position = SpoolCursorPosition(committed: firstSequence &- 1)
            try? StateFile.write(position.encoded(), to: layout.cursorPath(name), durable: true)
            cursors[name] = position
        }

        var segments: [SegmentInfo] = []
        for first in firsts {
            if let tail, tail.first == first {
                segments.append(SegmentInfo(first: first, bytes: tail.writeOffset, recordCount: tail.recordCount))
            } else {
                segments.append(SegmentInfo(first: first, bytes: POSIXFile.fileSize(layout.segmentPath(first)) ?? 0))
            }
        }
        if let tailHeader, tailHeader.previousFirstSequence != 0, firsts.count >= 2,
           !firsts.contains(tailHeader.previousFirstSequence), tailHeader.previousFirstSequence > firsts[0] {
            newMeta.gaps += 1
            metrics.gaps.increment()
            logger.error("segment missing from the middle of the spool: its records are lost, reading goes on",
                         metadata: ["missing": "\(SpoolLayout.segmentName(tailHeader.previousFirstSequence))"])
        }

        return State(
            id: spoolID, lock: lock, meta: newMeta, segments: segments, tail: tail, lastSequence: lastSequence,
            nextSequence: nextSequence, reservedThrough: written, cursors: cursors, quarantined: quarantined)
    }
}
