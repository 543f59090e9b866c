import Glibc

extension Spool {
    /// How many of the oldest segments every cursor has passed (0 with no cursor).
    func consumedSegmentCount() -> Int {
        guard let minimum = cursors.values.map(\.committed).min() else { return 0 }
        var count = 0
        while count + 1 < segments.count, segments[count + 1].first <= minimum &+ 1 { count += 1 }
        return count
    }

    /// Bytes of segments kept only for replay (every cursor has passed them).
    public var retainedBytes: Int64 {
        segments.prefix(consumedSegmentCount()).reduce(0) { $0 + $1.bytes }
    }

    /// Whether the oldest of the `consumed` segments stays for replay under ``SpoolConfiguration/retainBytes``
    /// and ``SpoolConfiguration/retainAge``.
    func retainsOldest(of consumed: Int) -> Bool {
        guard configuration.retains, consumed > 0 else { return false }
        if configuration.retainBytes > 0 {
            let bytes = segments.prefix(consumed).reduce(Int64(0)) { $0 + $1.bytes }
            if bytes > configuration.retainBytes { return false }
        }
        if let age = configuration.retainAge, let written = lastWritten(segments[0]) {
            let now = Double(time(nil))
            if now - written > Double(age.components.seconds) { return false }
        }
        return true
    }

    /// Under capacity pressure: deletes the oldest segment kept only for replay, counting its records as
    /// retained batches dropped (they were delivered; only the ability to replay them is lost).
    func dropRetainedSegment() -> Bool {
        guard consumedSegmentCount() > 0 else { return false }
        let oldest = segments[0]
        let records = oldest.recordCount ?? countRecords(inSegment: oldest.first)
        guard deleteSegment(oldest) else { return false }
        retainedDroppedBatches += UInt64(records)
        metrics.retainedDroppedBatches.increment(by: records)
        metrics.retainedBytes.record(retainedBytes)
        logger.info("spool full: dropped the oldest retained (already delivered) segment to make room", metadata: [
            "segment": "\(SpoolLayout.segmentName(oldest.first))", "batches": "\(records)",
        ])
        waiters.resumeCapacity()
        return true
    }

    /// When a segment file was last written, in seconds since the epoch.
    func lastWritten(_ segment: SegmentInfo) -> Double? {
        var info = stat()
        guard stat(layout.segmentPath(segment.first), &info) == 0 else { return nil }
        return Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
    }

    /// The oldest retained segment's last write, for `spool inspect` and replay planning.
    public var oldestRetainedWrite: Double? {
        guard consumedSegmentCount() > 0, let first = segments.first else { return nil }
        return lastWritten(first)
    }
}
