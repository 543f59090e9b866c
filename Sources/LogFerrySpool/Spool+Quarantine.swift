import Glibc

extension Spool {
    /// Copies damaged bytes of a segment to `quarantine/` once, counting them the first time they are seen.
    func quarantine(segment first: UInt64, offset: Int, bytes: [UInt8], reason: String) {
        let name = SpoolQuarantine.name(segment: first, offset: offset)
        let path = layout.quarantineDirectory + "/" + name
        guard !POSIXFile.fileExists(path) else { return }
        do {
            try POSIXFile.writeWholeFile(path, bytes)
        } catch {
            logger.error("cannot copy damaged bytes to quarantine", metadata: ["path": "\(path)", "error": "\(error)"])
        }
        quarantinedCount += 1
        metrics.quarantinedRecords.increment()
        logger.error("damaged record skipped and quarantined", metadata: [
            "segment": "\(SpoolLayout.segmentName(first))", "offset": "\(offset)", "bytes": "\(bytes.count)",
            "reason": "\(reason)", "copy": "\(path)",
        ])
    }

    /// Moves a damaged state file into `quarantine/`.
    func quarantineFile(_ path: String, as label: String) {
        SpoolQuarantine.moveFile(path, layout: layout, label: label)
        quarantinedCount += 1
        metrics.quarantinedRecords.increment()
    }

    /// A reader found that the segment before `segment` (named `missing`) is gone: a gap, reported once.
    func noteGap(missing: UInt64, before segment: UInt64) {
        guard knownGaps.insert(segment).inserted else { return }
        gapCount += 1
        metrics.gaps.increment()
        logger.error("segment missing from the middle of the spool: its records are lost, reading goes on", metadata: [
            "missing": "\(SpoolLayout.segmentName(missing))", "next": "\(SpoolLayout.segmentName(segment))",
        ])
        try? writeMeta(reservedThrough: reservedThrough, durable: false)
    }
}

/// Names and moves of quarantined copies, shared by the spool and its recovery.
enum SpoolQuarantine {
    /// `<segment name>-<offset>.bad`: one file per damaged stretch, so a stretch is counted once.
    static func name(segment: UInt64, offset: Int) -> String {
        SpoolLayout.segmentName(segment) + "-" + String(offset) + ".bad"
    }

    static func moveFile(_ path: String, layout: SpoolLayout, label: String) {
        var target = layout.quarantineDirectory + "/" + label + ".bad"
        var n = 1
        while POSIXFile.fileExists(target) {
            n += 1
            target = layout.quarantineDirectory + "/" + label + "-\(n).bad"
        }
        try? POSIXFile.rename(path, target)
    }

    static func count(layout: SpoolLayout) -> UInt64 {
        UInt64((try? POSIXFile.listDirectory(layout.quarantineDirectory))?.filter { !$0.hasSuffix(".tmp") }.count ?? 0)
    }
}
