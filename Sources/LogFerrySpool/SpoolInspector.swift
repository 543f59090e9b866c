import Glibc

/// Reads a spool directory without taking its lock, so it works while a node runs: the engine behind
/// `logferry spool inspect` and `logferry spool verify`. It never writes.
public enum SpoolInspector {
    /// Summarises a spool: id, sequence range, segments, bytes, cursors with backlog, quarantined and dropped
    /// counts. Reads the state files and the newest segment only.
    public static func inspect(directory: String) throws -> SpoolReport {
        let layout = SpoolLayout(directory: directory)
        let firsts = try listSegments(layout)
        var problems: [String] = []
        var meta: SpoolMeta?
        switch StateFile.read(layout.metaPath) {
        case .body(let body):
            meta = SpoolMeta(decoding: body)
            if meta == nil { problems.append("spool.meta: unknown format version") }
        case .corrupt(let reason): problems.append("spool.meta: \(reason)")
        case .missing: if !firsts.isEmpty { problems.append("spool.meta: missing") }
        }
        var lastSequence: UInt64 = 0
        var headerID: SpoolID?
        for first in firsts.reversed() {
            guard let bytes = try? POSIXFile.readWholeFile(layout.segmentPath(first)) else { continue }
            headerID = headerID ?? SegmentHeader(parsing: bytes)?.spoolID
            let scan = bytes.withUnsafeBytes { SegmentScanner.scan($0, from: SegmentHeader.bytes, minimumSequence: first) }
            if let last = scan.lastSequence {
                lastSequence = last
                break
            }
        }
        let cursorList = readCursors(layout, problems: &problems)
        lastSequence = max(lastSequence, cursorList.map(\.committed).max() ?? 0)
        let firstSequence = min(firsts.first ?? (lastSequence + 1), lastSequence + 1)
        let minimumCursor = cursorList.map(\.committed).min()
        let segments = firsts.enumerated().map { index, first in
            let next = index + 1 < firsts.count ? firsts[index + 1] : nil
            var info = stat()
            let written = stat(layout.segmentPath(first), &info) == 0
                ? Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9 : nil
            return SpoolReport.Segment(
                name: SpoolLayout.segmentName(first), firstSequence: first,
                bytes: POSIXFile.fileSize(layout.segmentPath(first)) ?? 0, lastWritten: written,
                retained: next.map { next in minimumCursor.map { next <= $0 &+ 1 } ?? false } ?? false)
        }
        let cursors = cursorList.map { cursor in
            let done = max(cursor.committed, firstSequence &- 1)
            return SpoolStatistics.Cursor(name: cursor.name, committed: cursor.committed,
                                          backlog: lastSequence > done ? lastSequence - done : 0)
        }
        var holder = SpoolLock.holder(path: layout.lockPath)
        if let pid = holder, kill(pid, 0) != 0 && errno != EPERM { holder = nil }
        return SpoolReport(
            directory: layout.directory,
            spoolID: (meta?.spoolID ?? headerID)?.description,
            firstSequence: firstSequence,
            lastSequence: lastSequence,
            reservedThrough: meta?.reservedThrough,
            segments: segments,
            bytes: segments.reduce(0) { $0 + $1.bytes },
            cursors: cursors,
            quarantined: SpoolQuarantine.count(layout: layout),
            droppedBatches: meta?.droppedBatches ?? 0,
            droppedBytes: meta?.droppedBytes ?? 0,
            gaps: meta?.gaps ?? 0,
            lockHolderPID: holder,
            problems: problems
        )
    }

    /// Checks every record of every segment against its CRC32C, every segment header and state file, and the
    /// chain of segments (gaps). Findings name the file and the byte offset.
    public static func verify(directory: String) throws -> SpoolVerifyReport {
        let layout = SpoolLayout(directory: directory)
        let firsts = try listSegments(layout)
        var report = SpoolVerifyReport(directory: layout.directory)
        for (index, first) in firsts.enumerated() {
            let name = SpoolLayout.segmentName(first)
            let bytes: [UInt8]
            do {
                bytes = try POSIXFile.readWholeFile(layout.segmentPath(first))
            } catch {
                report.problems.append(.init(file: name, offset: 0, length: 0, kind: "read", message: "\(error)"))
                continue
            }
            report.segmentsChecked += 1
            report.bytesChecked += Int64(bytes.count)
            let isNewest = index == firsts.count - 1
            if let header = SegmentHeader(parsing: bytes) {
                if header.firstSequence != first {
                    report.problems.append(.init(file: name, offset: 24, length: 8, kind: "header",
                                                 message: "header names first sequence \(header.firstSequence)"))
                }
                let previous = header.previousFirstSequence
                if index > 0, previous != 0, previous != firsts[index - 1], previous > firsts[index - 1] {
                    report.problems.append(.init(
                        file: name, offset: 32, length: 8, kind: "gap",
                        message: "the segment before it, \(SpoolLayout.segmentName(previous)), is missing: "
                            + "its records are lost"))
                }
            } else if !(isNewest && bytes.count < SegmentHeader.bytes) {
                report.problems.append(.init(file: name, offset: 0, length: min(bytes.count, SegmentHeader.bytes),
                                             kind: "header", message: "damaged or missing segment header"))
            }
            let scan = bytes.withUnsafeBytes { SegmentScanner.scan($0, from: SegmentHeader.bytes, minimumSequence: first) }
            report.recordsChecked += scan.recordCount
            for damage in scan.damages {
                report.problems.append(finding(name, damage, layout: layout, first: first))
            }
            if let trailing = scan.trailing {
                var item = finding(name, trailing, layout: layout, first: first)
                if isNewest && !trailing.isCompleteRecord {
                    item.kind = "torn-tail"
                    item.message += " (an interrupted write: the next open truncates it)"
                    report.warnings.append(item)
                } else {
                    report.problems.append(item)
                }
            }
        }
        var problems: [String] = []
        _ = readCursors(layout, problems: &problems)
        if case .corrupt(let reason) = StateFile.read(layout.metaPath) {
            problems.append("spool.meta: \(reason)")
        }
        for problem in problems {
            report.problems.append(.init(file: "state", offset: 0, length: 0, kind: "state", message: problem))
        }
        return report
    }

    private static func finding(
        _ name: String, _ damage: SegmentScanner.Damage, layout: SpoolLayout, first: UInt64
    ) -> SpoolVerifyReport.Finding {
        let copied = POSIXFile.fileExists(
            layout.quarantineDirectory + "/" + SpoolQuarantine.name(segment: first, offset: damage.offset))
        return .init(file: name, offset: damage.offset, length: damage.length,
                     kind: damage.isCompleteRecord ? "crc" : "garbage",
                     message: damage.reason + (copied ? " (already quarantined)" : ""))
    }

    private static func listSegments(_ layout: SpoolLayout) throws -> [UInt64] {
        guard POSIXFile.isDirectory(layout.directory) else {
            throw SpoolError(.unusableDirectory, "\(layout.directory) is not a directory")
        }
        if !POSIXFile.isDirectory(layout.segmentsDirectory) { return [] }
        do {
            return try layout.listSegments()
        } catch {
            throw SpoolError(.unusableDirectory, "cannot list \(layout.segmentsDirectory): \(error)")
        }
    }

    private static func readCursors(_ layout: SpoolLayout, problems: inout [String]) -> [(name: String, committed: UInt64)] {
        let names = ((try? POSIXFile.listDirectory(layout.cursorsDirectory)) ?? [])
            .filter { $0.hasSuffix(SpoolLayout.cursorSuffix) }
            .map { String($0.dropLast(SpoolLayout.cursorSuffix.count)) }
            .sorted()
        var cursors: [(name: String, committed: UInt64)] = []
        for name in names {
            switch StateFile.read(layout.cursorPath(name)) {
            case .body(let body):
                if let position = SpoolCursorPosition(decoding: body) {
                    cursors.append((name, position.committed))
                } else {
                    problems.append("cursors/\(name).cursor: too short")
                }
            case .corrupt(let reason): problems.append("cursors/\(name).cursor: \(reason)")
            case .missing: break
            }
        }
        return cursors
    }
}
