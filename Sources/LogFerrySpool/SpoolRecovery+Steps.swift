import Glibc
import Logging

/// The steps of ``SpoolRecovery/recover(configuration:layout:logger:metrics:)``, in the order it runs them.
extension SpoolRecovery {
    /// Creates the spool directory and its subdirectories, checks that this user may use them, takes the directory
    /// lock, and removes the temporary files of writes a crash interrupted.
    static func prepareDirectory(_ layout: SpoolLayout) throws -> SpoolLock {
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
        return lock
    }

    /// `spool.meta` as found on disk.
    struct MetaFile {
        /// The decoded file; nil when it is missing, damaged or of an unknown format version.
        var meta: SpoolMeta?
        /// Why `meta` is nil.
        var problem: String?
    }

    /// The segments once the newest one has been checked.
    struct Segments {
        /// The first sequence of every segment, oldest first, without the empty newest segments that were removed.
        var firsts: [UInt64]
        /// The newest segment, open for appending just after its last intact record.
        var tail: TailSegment?
        /// The newest segment's header; nil when it was damaged or missing.
        var tailHeader: SegmentHeader?
        /// The last sequence stored in the newest segment.
        var tailLast: UInt64?
        /// The header of the newest segment to write again once the spool id is known.
        var headerToRewrite: (first: UInt64, previous: UInt64)?
    }

    /// The cursor files.
    struct Cursors {
        /// The position of every cursor with an intact file.
        var positions: [String: SpoolCursorPosition]
        /// Cursors whose file was damaged (and quarantined).
        var damaged: [String]
    }

    /// The sequence numbers the spool continues with.
    struct Sequences {
        /// The highest sequence stored or committed.
        var last: UInt64
        /// The next sequence to hand out.
        var next: UInt64
        /// Reserved on disk through this sequence (`next - 1` when `spool.meta` could not be written).
        var reservedThrough: UInt64
        /// `spool.meta` as written, with the new reservation.
        var meta: SpoolMeta
    }

    /// One recovery: where the spool is, where to report, and what was quarantined so far.
    struct Run {
        /// The spool's paths.
        let layout: SpoolLayout
        /// Where damage and repairs are logged.
        let logger: Logger
        /// The spool's metrics (quarantined records, torn bytes, gaps).
        let metrics: SpoolMetrics
        /// Items in `quarantine/`, the ones found there at start included.
        private(set) var quarantined: UInt64

        /// Starts a recovery of the spool at `layout`, counting what is already in quarantine.
        init(layout: SpoolLayout, logger: Logger, metrics: SpoolMetrics) {
            self.layout = layout
            self.logger = logger
            self.metrics = metrics
            self.quarantined = SpoolQuarantine.count(layout: layout)
        }

        /// Reads `spool.meta`; a damaged one is moved to quarantine, to be rebuilt from the segments.
        mutating func readMeta() -> MetaFile {
            var file = MetaFile()
            switch StateFile.read(layout.metaPath) {
            case .body(let body):
                file.meta = SpoolMeta(decoding: body)
                if file.meta == nil { file.problem = "unknown format version" }
            case .corrupt(let reason):
                file.problem = reason
            case .missing:
                file.problem = "missing"
            }
            if file.meta == nil, POSIXFile.fileExists(layout.metaPath) {
                quarantineFile(layout.metaPath, label: "spool.meta")
            }
            return file
        }

        /// Validates the newest segment: damaged records are quarantined, a torn tail is cut off, and empty newest
        /// segments are removed so that the tail is the last segment with records.
        mutating func recoverNewestSegment() throws -> Segments {
            var segments = Segments(firsts: [])
            do {
                segments.firsts = try layout.listSegments()
            } catch {
                throw SpoolError(.unusableDirectory, "cannot list \(layout.segmentsDirectory): \(error)")
            }
            while let first = segments.firsts.last {
                let path = layout.segmentPath(first)
                let (headerBytes, fileSize, scan): ([UInt8], Int, SegmentScanner.Result)
                do {
                    (headerBytes, fileSize, scan) = try scanNewest(path, first: first)
                } catch {
                    throw SpoolError(.unusableDirectory, "cannot read the newest segment \(path): \(error)")
                }
                if scan.recordCount == 0 && segments.firsts.count > 1 {
                    logger.warning("removing an empty newest segment", metadata: ["path": "\(path)"])
                    try? POSIXFile.unlink(path)
                    segments.firsts.removeLast()
                    continue
                }
                try openTail(first: first, headerBytes: headerBytes, fileSize: fileSize, scan: scan, into: &segments)
                break
            }
            return segments
        }

        /// Scans the newest segment at `path`: window by window when it holds nothing but valid records (the
        /// usual case), else whole, quarantining what is damaged. Returns its header bytes, size and records.
        private mutating func scanNewest(
            _ path: String, first: UInt64
        ) throws(POSIXError) -> (header: [UInt8], size: Int, scan: SegmentScanner.Result) {
            let fd = try POSIXFile.open(path, O_RDONLY)
            defer { POSIXFile.close(fd) }
            let size = Int(try POSIXFile.size(fd, path: path))
            let header = try POSIXFile.read(fd, count: SegmentHeader.bytes, at: 0, path: path)
            if let clean = try SegmentScanner.scanClean(
                fd, size: size, path: path, from: SegmentHeader.bytes, minimumSequence: first) {
                return (header, size, clean)
            }
            let bytes = try POSIXFile.readWholeFile(path)
            let scan = bytes.withUnsafeBytes {
                SegmentScanner.scan($0, from: SegmentHeader.bytes, minimumSequence: first)
            }
            bytes.withUnsafeBytes { buffer in
                for damage in scan.damages { quarantine(damage, segment: first, bytes: buffer) }
                if let trailing = scan.trailing, trailing.isCompleteRecord {
                    quarantine(trailing, segment: first, bytes: buffer)
                }
            }
            return (Array(bytes.prefix(SegmentHeader.bytes)), bytes.count, scan)
        }

        /// Opens the newest segment for appending: cuts off a torn tail and notes a damaged header for rewriting.
        private func openTail(
            first: UInt64, headerBytes: [UInt8], fileSize: Int, scan: SegmentScanner.Result, into segments: inout Segments
        ) throws {
            let path = layout.segmentPath(first)
            let header = SegmentHeader(parsing: headerBytes)
            let validEnd = max(scan.validEnd, SegmentHeader.bytes)
            if fileSize > validEnd {
                let torn = fileSize - validEnd
                metrics.tornBytes.increment(by: torn)
                logger.warning("truncating a torn tail", metadata: [
                    "path": "\(path)", "offset": "\(validEnd)", "bytes": "\(torn)",
                    "reason": "\(scan.trailing?.reason ?? "incomplete")",
                ])
            }
            if header == nil {
                logger.warning("rewriting a damaged or missing segment header", metadata: ["path": "\(path)"])
                let firsts = segments.firsts
                segments.headerToRewrite = (first, firsts.count > 1 ? firsts[firsts.count - 2] : 0)
            }
            let fd: Int32
            do {
                fd = try POSIXFile.open(path, O_WRONLY)
                if fileSize != validEnd { try POSIXFile.truncate(fd, to: Int64(validEnd), path: path) }
            } catch {
                throw SpoolError(.unusableDirectory, "cannot open the newest segment \(path) for writing: \(error)")
            }
            // The spool starts with every recovered record counted as synced: make it so. A crashed process can
            // leave records (and the cut of a torn tail) only in the page cache, where a power loss would still
            // take them after they were shipped and their offsets committed.
            do {
                try POSIXFile.dataSync(fd, path: path)
                try POSIXFile.syncDirectory(layout.segmentsDirectory)
            } catch {
                POSIXFile.close(fd)
                throw SpoolError(.unusableDirectory, "cannot sync the newest segment \(path) after recovery: \(error). "
                    + "Check the disk, then start again.")
            }
            segments.tail = TailSegment(fd: fd, first: first, path: path, writeOffset: Int64(validEnd),
                                        recordCount: scan.recordCount)
            segments.tailHeader = header
            segments.tailLast = scan.lastSequence
        }

        /// The spool id: from `spool.meta`, else from a segment header, else a new one. A damaged header of the
        /// newest segment is written again with it.
        func settleSpoolID(metaFile: MetaFile, segments: Segments) -> SpoolID {
            var id = metaFile.meta?.spoolID ?? segments.tailHeader?.spoolID
            if id == nil, let oldest = segments.firsts.first,
               let bytes = try? POSIXFile.readWholeFilePrefix(layout.segmentPath(oldest), count: SegmentHeader.bytes) {
                id = SegmentHeader(parsing: bytes)?.spoolID
            }
            let spoolID = id ?? SpoolID.random()
            if Self.metaWasLost(metaFile, segments) {
                logger.error("spool.meta \(metaFile.problem ?? "unreadable"): rebuilt from the segments",
                             metadata: ["spool_id": "\(spoolID)", "recovered_id": "\(id != nil)"])
            }
            if let (first, previous) = segments.headerToRewrite, let tail = segments.tail {
                let header = SegmentHeader(spoolID: spoolID, firstSequence: first, previousFirstSequence: previous)
                try? POSIXFile.write(tail.fd, header.encoded(), at: 0, path: tail.path)
            }
            return spoolID
        }

        /// Binds the spool id to where the spool lives (machine and absolute path). A spool opened somewhere
        /// else than where it was last opened is a copy (a cloned disk, a restored image, `cp -a`): it takes a
        /// new id, so its new batches are never mistaken for the original's; its cursors and records stay.
        func bindIdentity(_ spoolID: SpoolID) -> SpoolID {
            let here = SpoolIdentity.current(directory: layout.directory)
            guard case .body(let body) = StateFile.read(layout.identityPath), let recorded = SpoolIdentity(decoding: body),
                recorded != here
            else { return spoolID }
            let id = SpoolID.random()
            logger.warning("this spool was copied: it was last opened on machine \(recorded.machine) at \(recorded.path), now on \(here.machine) at \(here.path); it takes a new spool id so its new batches are not taken for the original's (acknowledged cursors are kept)", metadata: [
                "old_spool_id": "\(spoolID)", "spool_id": "\(id)",
            ])
            return id
        }

        /// Records where the spool lives, once `spool.meta` holds the id that goes with it.
        func recordIdentity() {
            let here = SpoolIdentity.current(directory: layout.directory)
            if case .body(let body) = StateFile.read(layout.identityPath), SpoolIdentity(decoding: body) == here { return }
            do {
                try StateFile.write(here.encoded, to: layout.identityPath, durable: true)
            } catch {
                logger.error("cannot record the spool's identity in \(layout.identityPath): \(error)")
            }
        }

        /// Reads the cursor files; a damaged one is moved to quarantine and its cursor restarted later.
        mutating func readCursors() -> Cursors {
            var cursors = Cursors(positions: [:], damaged: [])
            let names = ((try? POSIXFile.listDirectory(layout.cursorsDirectory)) ?? [])
                .filter { $0.hasSuffix(SpoolLayout.cursorSuffix) }
                .map { String($0.dropLast(SpoolLayout.cursorSuffix.count)) }
                .filter(SpoolLayout.isValidName)
            for name in names {
                let path = layout.cursorPath(name)
                if case .body(let body) = StateFile.read(path), let position = SpoolCursorPosition(decoding: body) {
                    cursors.positions[name] = position
                } else {
                    logger.error("damaged cursor file: the cursor restarts at the oldest stored record", metadata: [
                        "cursor": "\(name)", "path": "\(path)",
                    ])
                    quarantineFile(path, label: "cursor-\(name)")
                    cursors.damaged.append(name)
                }
            }
            return cursors
        }

        /// Sequences continue above everything stored, committed or reserved (with `spool.meta` lost, with a margin
        /// on top); the next block is reserved in `spool.meta` before any is handed out.
        func reserveSequences(
            metaFile: MetaFile, spoolID: SpoolID, segments: Segments, cursors: [String: SpoolCursorPosition]
        ) -> Sequences {
            let tail = segments.tail
            var lastSequence = segments.tailLast ?? (tail.map { $0.first &- 1 } ?? 0)
            lastSequence = max(lastSequence, cursors.values.map(\.committed).max() ?? 0)
            var nextSequence = max(lastSequence + 1, (metaFile.meta?.reservedThrough ?? 0) + 1, tail?.first ?? 1)
            if Self.metaWasLost(metaFile, segments) { nextSequence += 2 * Spool.reservationBlock }
            let reservedThrough = nextSequence - 1 + Spool.reservationBlock
            var meta = metaFile.meta ?? SpoolMeta(spoolID: spoolID, reservedThrough: reservedThrough)
            meta.spoolID = spoolID
            meta.reservedThrough = reservedThrough
            var written = reservedThrough
            do {
                try StateFile.write(meta.encoded(), to: layout.metaPath, durable: true)
            } catch {
                logger.error("cannot write spool.meta on open; appends will retry", metadata: ["error": "\(error)"])
                written = nextSequence - 1
            }
            return Sequences(last: lastSequence, next: nextSequence, reservedThrough: written, meta: meta)
        }

        /// Writes the cursors whose file was damaged again, just before the oldest stored record.
        func restartDamagedCursors(_ cursors: inout Cursors, segments: Segments, lastSequence: UInt64) {
            let firstSequence = min(segments.firsts.first ?? (lastSequence + 1), lastSequence + 1)
            for name in cursors.damaged {
                let position = SpoolCursorPosition(committed: firstSequence &- 1)
                try? StateFile.write(position.encoded(), to: layout.cursorPath(name), durable: true)
                cursors.positions[name] = position
            }
        }

        /// Counts a segment missing from the middle of the spool (the newest segment's header names a previous
        /// segment that is gone although older ones remain).
        func countGap(in segments: Segments, meta: inout SpoolMeta) {
            let firsts = segments.firsts
            guard let tailHeader = segments.tailHeader, tailHeader.previousFirstSequence != 0, firsts.count >= 2,
                  !firsts.contains(tailHeader.previousFirstSequence), tailHeader.previousFirstSequence > firsts[0]
            else { return }
            meta.gaps += 1
            metrics.gaps.increment()
            logger.error("segment missing from the middle of the spool: its records are lost, reading goes on",
                         metadata: ["missing": "\(SpoolLayout.segmentName(tailHeader.previousFirstSequence))"])
        }

        /// What the spool keeps in memory about each segment; the older segments' sizes come from the file system.
        func segmentInfos(_ segments: Segments) -> [SegmentInfo] {
            segments.firsts.map { first in
                if let tail = segments.tail, tail.first == first {
                    SegmentInfo(first: first, bytes: tail.writeOffset, recordCount: tail.recordCount)
                } else {
                    SegmentInfo(first: first, bytes: POSIXFile.fileSize(layout.segmentPath(first)) ?? 0)
                }
            }
        }

        /// Whether `spool.meta` is gone from a spool that has segments (a new, empty spool has no meta yet).
        private static func metaWasLost(_ metaFile: MetaFile, _ segments: Segments) -> Bool {
            metaFile.meta == nil && !segments.firsts.isEmpty
        }

        /// Copies a damaged stretch of a segment to `quarantine/` once, counting it the first time it is seen.
        private mutating func quarantine(
            _ damage: SegmentScanner.Damage, segment first: UInt64, bytes: UnsafeRawBufferPointer
        ) {
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

        /// Moves a damaged state file to `quarantine/` and counts it.
        private mutating func quarantineFile(_ path: String, label: String) {
            SpoolQuarantine.moveFile(path, layout: layout, label: label)
            quarantined += 1
            metrics.quarantinedRecords.increment()
        }
    }
}
