import Glibc

extension Spool {
    /// Whether a capped spool is at least half full, or the disk under it is (nearly) full: callers that pin
    /// records with a cursor (snapshots) should then move it after every append, or a full spool (or disk) waits
    /// on them. The disk counts as nearly full when less than four segments' worth of space is free, or when the
    /// last append found no space.
    public var isUnderCapacityPressure: Bool {
        if let maxBytes = configuration.maxBytes, totalBytes * 2 >= Int64(maxBytes) { return true }
        return isUnderDiskPressure
    }

    /// The disk holding the segments is full or nearly so (see ``isUnderCapacityPressure``).
    var isUnderDiskPressure: Bool {
        if diskFull { return true }
        guard let free = freeDiskBytes else { return false }
        return free < 4 * Int64(configuration.segmentBytes)
    }

    /// Whether a capped `block` spool is (nearly) full, so a new writer would only wait: a listener then
    /// refuses new sessions with retry-later instead of leaving their handshake hanging.
    public var isFullUnderBlock: Bool {
        guard let maxBytes = configuration.maxBytes, configuration.capacityPolicy == .block else { return false }
        return totalBytes >= Int64(maxBytes) - Int64(maxBytes) / 16
    }

    func makeRoom(for recordBytes: Int) async throws -> Bool {
        guard let maxBytes = configuration.maxBytes else { return true }
        while true {
            try checkWritable()
            var needed = Int64(recordBytes)
            if let tail, tail.writeOffset >= Int64(configuration.segmentBytes) { needed += Int64(SegmentHeader.bytes) }
            if segments.isEmpty { needed += Int64(SegmentHeader.bytes) }
            if totalBytes + needed <= Int64(maxBytes) { return true }
            // Records kept only for replay go first, whatever the policy: they never block or drop new data.
            if dropRetainedSegment() { continue }
            // Then what every cursor has passed, the newest segment included, whatever the policy: delivered
            // records never make a policy block or drop.
            if try reclaimCommittedTail() { continue }
            switch configuration.capacityPolicy {
            case .dropNewest:
                return false
            case .dropOldest:
                if !(try dropOldestSegment()) { return true }
            case .block:
                if cursors.isEmpty && !warnedBlockingWithoutCursor {
                    warnedBlockingWithoutCursor = true
                    logger.warning("spool full and no cursor exists: appends wait until a cursor commits or the spool closes", metadata: ["max_bytes": "\(maxBytes)"])
                } else if !cursors.isEmpty && !warnedBlocking {
                    warnedBlocking = true
                    logger.warning("spool full (policy block): appends wait until the sinks deliver and commit", metadata: [
                        "max_bytes": "\(maxBytes)", "bytes": "\(totalBytes)",
                        "behind": "\(cursors.filter { $0.value.committed < lastWritten }.keys.sorted().joined(separator: ","))",
                    ])
                }
                await suspend(.capacity)
                try Task.checkCancellation()
            }
        }
    }

    /// `drop-oldest`: deletes the oldest segment (sealing the tail first when it is the only one), counting its
    /// records as dropped. `false` when there is nothing left to drop.
    func dropOldestSegment() throws -> Bool {
        if segments.count == 1, let tail, tail.recordCount > 0 {
            try roll()
        }
        guard segments.count > 1 else { return false }
        let oldest = segments[0]
        let records = oldest.recordCount ?? countRecords(inSegment: oldest.first)
        guard deleteSegment(oldest) else { return false }
        let bytes = UInt64(max(0, oldest.bytes - Int64(SegmentHeader.bytes)))
        droppedBatches += UInt64(records)
        droppedBytes += bytes
        metrics.droppedBatches.increment(by: records)
        metrics.droppedBytes.increment(by: Int(bytes))
        updateGauges()
        logger.warning("spool full: dropped the oldest segment", metadata: [
            "segment": "\(SpoolLayout.segmentName(oldest.first))", "batches": "\(records)", "bytes": "\(bytes)",
        ])
        try? writeMeta(reservedThrough: reservedThrough, durable: false)
        return true
    }

    /// When every cursor has passed the whole tail, frees it: deleted at once (the next append starts a new
    /// segment), or with retention sealed so that it is kept as a consumed segment the caller can drop.
    func reclaimCommittedTail() throws -> Bool {
        if !configuration.retains { return reclaimConsumedTail() }
        guard let minimum = cursors.values.map(\.committed).min(), let tail, tail.recordCount > 0,
              minimum >= lastWritten
        else { return false }
        try roll()
        let before = segments.count
        deleteConsumedSegments()
        return segments.count < before || configuration.retains
    }

    /// Deletes the tail when every cursor has passed all of it (not while a sync uses its descriptor, and not
    /// with retention, which keeps passed segments for replay). No new segment is made: the next append does.
    func reclaimConsumedTail() -> Bool {
        guard !configuration.retains, !syncInFlight, let minimum = cursors.values.map(\.committed).min(),
              let tail, tail.recordCount > 0, minimum >= lastWritten, lastSynced >= lastWritten || configuration.fsync != .always,
              let segment = segments.last, segment.first == tail.first
        else { return false }
        guard deleteSegment(segment) else { return false }
        updateGauges()
        waiters.resumeCapacity()
        return true
    }

    /// Deletes, oldest first, the segments every cursor has passed. With no cursor nothing is deleted.
    ///
    /// The cursor state is written before this runs, so a crash between two unlinks only leaves segments that
    /// the next open deletes again.
    func deleteConsumedSegments() {
        var consumed = consumedSegmentCount()
        var deleted = false
        while consumed > 0, !retainsOldest(of: consumed) {
            guard deleteSegment(segments[0]) else { break }
            consumed -= 1
            deleted = true
        }
        if deleted {
            updateGauges()
            waiters.resumeCapacity()
        }
        metrics.retainedBytes.record(retainedBytes)
    }

    /// Unlinks one segment (the oldest) and forgets it.
    func deleteSegment(_ segment: SegmentInfo) -> Bool {
        let path = layout.segmentPath(segment.first)
        do {
            try POSIXFile.unlink(path)
        } catch {
            logger.error("cannot delete a consumed segment", metadata: ["path": "\(path)", "error": "\(error)"])
            return false
        }
        segments.removeAll { $0.first == segment.first }
        if let tail, tail.first == segment.first {
            POSIXFile.close(tail.fd)
            self.tail = nil
        }
        metrics.segments.record(segments.count)
        metrics.bytes.record(totalBytes)
        return true
    }

    /// Counts the records of a segment written before this process opened the spool (headers only).
    func countRecords(inSegment first: UInt64) -> Int {
        let path = layout.segmentPath(first)
        guard let fd = try? POSIXFile.open(path, O_RDONLY) else { return 0 }
        defer { POSIXFile.close(fd) }
        guard let bytes = try? POSIXFile.read(fd, count: Int((try? POSIXFile.size(fd, path: path)) ?? 0), at: 0, path: path)
        else { return 0 }
        return bytes.withUnsafeBytes {
            SegmentScanner.scan($0, from: SegmentHeader.bytes, minimumSequence: first).recordCount
        }
    }
}
