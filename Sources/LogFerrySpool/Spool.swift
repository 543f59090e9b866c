import Glibc
import Logging

/// A durable, segmented, checksummed spool: the only place LogFerry data waits (Docs/SPOOL.md).
///
/// Sources append sealed batches; every sink reads them in order through its own named cursor and commits what
/// the next place has durably taken. A segment is deleted once every cursor has passed it. One process owns a
/// spool at a time (an exclusive lock on the directory). Call `close()` when done.
public actor Spool {
    /// The spool's identity, made at creation and kept for its life.
    public nonisolated let id: SpoolID
    /// The configuration the spool was opened with.
    public nonisolated let configuration: SpoolConfiguration

    /// Sequences reserved per write of `spool.meta`; after a crash the spool starts above the reservation.
    static let reservationBlock: UInt64 = 1 << 16

    let layout: SpoolLayout
    let logger: Logger
    let metrics: SpoolMetrics
    let syncer: SpoolSyncer
    var lock: SpoolLock?

    /// Segments present, oldest first; the last one is the tail that appends go to.
    var segments: [SegmentInfo]
    /// The open tail segment, when there is one.
    var tail: TailSegment?
    /// Sealed segments whose last writes still await a sync (policies `always` and `interval`).
    var unsyncedSealed: [SpoolSyncer.File] = []
    /// A segment file was made since the last sync of the segments directory.
    var directoryDirty = false

    /// The sequence the next append gets.
    var nextSequence: UInt64
    /// No sequence above this has been handed out; persisted in `spool.meta` before going beyond it.
    var reservedThrough: UInt64
    /// The highest sequence written to a segment.
    var lastWritten: UInt64
    /// The highest sequence known to be on stable storage.
    var lastSynced: UInt64

    var syncInFlight = false
    var syncWaiters: [CheckedContinuation<Void, Never>] = []
    var failure: SpoolError?
    var closing = false
    var closed = false

    var waiters = SpoolWaiters()
    var cursors: [String: SpoolCursorPosition]

    var droppedBatches: UInt64
    var droppedBytes: UInt64
    /// Delivered batches dropped from retention under capacity pressure (this process).
    var retainedDroppedBatches: UInt64 = 0
    var gapCount: UInt64
    var knownGaps: Set<UInt64> = []
    var quarantinedCount: UInt64
    var warnedBlockingWithoutCursor = false
    /// The current wait of `block` was logged (reset once an append gets room).
    var warnedBlocking = false
    /// The last append or state write found the disk full (cleared by a stored append).
    var diskFull = false
    var flusher: Task<Void, Never>?

    /// Opens (creating when needed) the spool in `configuration.directory` and recovers it.
    ///
    /// Recovery looks only at the newest segment, so opening costs the same whatever the backlog. Damaged bytes
    /// are truncated (a torn tail) or quarantined; only an unusable directory or the lock make this throw.
    public static func open(
        _ configuration: SpoolConfiguration,
        logger: Logger = Logger(label: "logferry.spool")
    ) async throws -> Spool {
        guard configuration.segmentBytes > SegmentHeader.bytes else {
            throw SpoolError(.unusableDirectory, "segment size \(configuration.segmentBytes) is too small")
        }
        let layout = SpoolLayout(directory: configuration.directory)
        let metrics = SpoolMetrics(spool: layout.directory)
        var logger = logger
        logger[metadataKey: "spool"] = "\(layout.directory)"
        let recovered = try await recoverWaitingForOwnLock(
            configuration: configuration, layout: layout, logger: logger, metrics: metrics)
        let configuration = sizeSegments(configuration, layout: layout, logger: logger)
        let spool = Spool(configuration: configuration, layout: layout, logger: logger, metrics: metrics,
                          recovered: recovered)
        await spool.start()
        return spool
    }

    /// Recovers the spool; when its lock is held under this very process's pid, waits up to 1 s for it first.
    ///
    /// That is this process having closed the spool a moment ago while a child it was starting still holds a copy of
    /// the lock's descriptor: a `flock` belongs to the open file, and a child has copies of every descriptor from fork
    /// until exec (or until it closes them). The copy goes within microseconds, or milliseconds on a loaded machine.
    /// A spool opened twice in one process is still refused, after that second.
    static func recoverWaitingForOwnLock(
        configuration: SpoolConfiguration, layout: SpoolLayout, logger: Logger, metrics: SpoolMetrics
    ) async throws -> SpoolRecovery.State {
        let deadline = ContinuousClock.now + .seconds(1)
        while true {
            do {
                return try SpoolRecovery.recover(
                    configuration: configuration, layout: layout, logger: logger, metrics: metrics)
            } catch let error as SpoolError
                where error.kind == .locked(pid: getpid()) && ContinuousClock.now < deadline
            {
                try await Task.sleep(for: .milliseconds(5))
            }
        }
    }

    /// Segments at most 1/8 of the cap (and of the filesystem the spool lives on), so that deleting the oldest
    /// segment, or every segment the cursors have passed, frees a slice of the room and not all of it: with a
    /// segment as large as the cap, `drop-oldest` threw the whole backlog away and the only segment, being the
    /// newest, was never deleted by commits.
    static func sizeSegments(_ configuration: SpoolConfiguration, layout: SpoolLayout, logger: Logger) -> SpoolConfiguration {
        var sized = configuration
        var reasons: [String] = []
        if let maxBytes = configuration.maxBytes, configuration.segmentBytes > maxBytes / 8 {
            sized.segmentBytes = min(sized.segmentBytes, maxBytes / 8)
            reasons.append("1/8 of the spool cap of \(maxBytes) bytes")
        }
        if let filesystem = filesystemBytes(layout.segmentsDirectory), configuration.segmentBytes > filesystem / 8 {
            sized.segmentBytes = min(sized.segmentBytes, Int(filesystem / 8))
            reasons.append("1/8 of the \(filesystem) bytes of the filesystem holding it")
        }
        guard sized.segmentBytes != configuration.segmentBytes else { return configuration }
        sized.segmentBytes = max(sized.segmentBytes, SegmentHeader.bytes + 1)
        let reason = reasons.joined(separator: " and ")
        logger.notice("spool segment size lowered from \(configuration.segmentBytes) to \(sized.segmentBytes) bytes: at most \(reason), so that freeing a segment frees a slice of the room")
        return sized
    }

    /// The size of the filesystem holding `path`, or nil when `statvfs` fails.
    static func filesystemBytes(_ path: String) -> Int64? {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return nil }
        return Int64(info.f_blocks) * Int64(info.f_frsize)
    }

    /// Free bytes (for an unprivileged writer) on the filesystem holding the segments, or nil when unknown.
    var freeDiskBytes: Int64? {
        var info = statvfs()
        guard statvfs(layout.segmentsDirectory, &info) == 0 else { return nil }
        return Int64(info.f_bavail) * Int64(info.f_frsize)
    }

    init(configuration: SpoolConfiguration, layout: SpoolLayout, logger: Logger, metrics: SpoolMetrics,
         recovered: SpoolRecovery.State) {
        self.id = recovered.id
        self.configuration = configuration
        self.layout = layout
        self.logger = logger
        self.metrics = metrics
        self.syncer = SpoolSyncer(label: "logferry.spool.sync")
        self.lock = recovered.lock
        self.segments = recovered.segments
        self.tail = recovered.tail
        self.nextSequence = recovered.nextSequence
        self.reservedThrough = recovered.reservedThrough
        self.lastWritten = recovered.lastSequence
        self.lastSynced = recovered.lastSequence
        self.cursors = recovered.cursors
        self.droppedBatches = recovered.meta.droppedBatches
        self.droppedBytes = recovered.meta.droppedBytes
        self.gapCount = recovered.meta.gaps
        self.quarantinedCount = recovered.quarantined
    }

    private func start() {
        deleteConsumedSegments()
        updateGauges()
        if case .interval(let milliseconds) = configuration.fsync {
            flusher = Task { [weak self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(milliseconds))
                    guard let self else { return }
                    await self.flushForInterval()
                }
            }
        }
        logger.info("spool open", metadata: [
            "spool_id": "\(id)", "first_sequence": "\(firstSequence)", "last_sequence": "\(lastSequence)",
            "segments": "\(segments.count)", "fsync": "\(configuration.fsync)",
        ])
    }

    deinit {
        flusher?.cancel()
        if let tail { POSIXFile.close(tail.fd) }
        for file in unsyncedSealed { POSIXFile.close(file.fd) }
    }

    // MARK: - Sequences

    /// The highest sequence readers may see: durable under the fsync policy. 0 when nothing was ever stored.
    public var lastSequence: UInt64 {
        configuration.fsync == .always ? lastSynced : lastWritten
    }

    /// The oldest sequence still stored; `lastSequence + 1` when the spool is empty.
    public var firstSequence: UInt64 {
        guard let first = segments.first?.first else { return lastSequence + 1 }
        return min(first, lastSequence + 1)
    }

    /// Total bytes in segment files.
    var totalBytes: Int64 { segments.reduce(0) { $0 + $1.bytes } }

    // MARK: - Appending

    /// Stores a batch and returns its sequence once it is durable under the fsync policy.
    ///
    /// With `always`, concurrent appends share one `fdatasync` (group commit). When `maxBytes` is reached, the
    /// capacity policy decides: `block` waits for cursors to free space, `drop-oldest` deletes the oldest
    /// segments, `drop-newest` returns `.dropped`; drops are counted. A full disk throws `.noSpace` and leaves
    /// the spool usable; an fsync or other write error puts the spool into the failed state.
    public func append(_ payload: [UInt8], metadata: [UInt8] = []) async throws -> SpoolAppendResult {
        try await append(parts: [payload], metadata: metadata)
    }

    /// ``append(_:metadata:)`` for a payload given as parts stored back to back as one (a sealed batch's header
    /// and its compressed bytes): the parts are written with the record's header in one `pwritev`, not joined
    /// into one buffer first.
    public func append(parts payload: [[UInt8]], metadata: [UInt8] = []) async throws -> SpoolAppendResult {
        try await waitUntilDurable(enqueue(parts: payload, metadata: metadata))
    }

    /// Writes a record (not yet durable under `always`) and returns what happened; see `append`.
    func write(parts payload: [[UInt8]], metadata: [UInt8]) async throws -> SpoolAppendResult {
        try checkWritable()
        let recordBytes = RecordFrame.headerBytes + metadata.count + payload.reduce(0) { $0 + $1.count }
        let limit = min(configuration.maxRecordBytes, RecordFrame.maximumRecordBytes,
                        (configuration.maxBytes ?? Int.max) - SegmentHeader.bytes)
        guard recordBytes <= limit, metadata.count <= RecordFrame.maximumMetadataBytes else {
            metrics.appendErrors.increment()
            throw SpoolError(.recordTooLarge(bytes: recordBytes, limit: limit),
                             "a record of \(recordBytes) bytes is larger than the spool \(layout.directory) accepts "
                                 + "(\(limit) bytes, metadata at most \(RecordFrame.maximumMetadataBytes)); split the batch.")
        }
        if configuration.maxBytes != nil {
            guard try await makeRoom(for: recordBytes) else {
                droppedBatches += 1
                droppedBytes += UInt64(recordBytes)
                metrics.droppedBatches.increment()
                metrics.droppedBytes.increment(by: recordBytes)
                // `spool inspect` reads the counts from `spool.meta`: keep it as true as the metrics.
                try? writeMeta(reservedThrough: reservedThrough, durable: false)
                return .dropped
            }
            try checkWritable()
        }
        // A full disk: free what every cursor has passed (the tail too) and try once more before giving up.
        do {
            return try writeRecord(parts: payload, metadata: metadata)
        } catch let error as SpoolError where error.kind == .noSpace {
            diskFull = true
            guard freeConsumed() else { throw error }
            logger.notice("disk full: deleted segments every cursor had passed; retrying the append")
            return try writeRecord(parts: payload, metadata: metadata)
        }
    }

    /// Deletes what every cursor has passed, the tail included (a full disk or a full spool). Whether anything went.
    @discardableResult
    func freeConsumed() -> Bool {
        let before = segments.count
        deleteConsumedSegments()
        _ = reclaimConsumedTail()
        return segments.count < before
    }

    /// The write itself: no suspension from start to end, so the sequence and the offset belong to this append.
    private func writeRecord(parts payload: [[UInt8]], metadata: [UInt8]) throws -> SpoolAppendResult {
        let sequence = nextSequence
        try reserve(through: sequence)
        try prepareTail()
        guard var tail else { throw fail("no tail segment after preparing one") }
        let header = RecordFrame.header(sequence: sequence, metadata: metadata, payloadParts: payload)
        let recordLength = header.count + metadata.count + payload.reduce(0) { $0 + $1.count }
        do throws(POSIXError) {
            try POSIXFile.write(tail.fd, parts: [header, metadata] + payload, at: tail.writeOffset, path: tail.path)
        } catch {
            metrics.appendErrors.increment()
            throw writeFailed(error, tail: tail)
        }
        diskFull = false
        warnedBlocking = false
        tail.writeOffset += Int64(recordLength)
        tail.recordCount += 1
        self.tail = tail
        segments[segments.count - 1].bytes = tail.writeOffset
        segments[segments.count - 1].recordCount = tail.recordCount
        nextSequence = sequence + 1
        lastWritten = sequence
        metrics.appendedBatches.increment()
        metrics.appendedBytes.increment(by: recordLength)
        if configuration.fsync != .always {
            updateGauges()
            waiters.resumeReaders()
        } else {
            metrics.bytes.record(totalBytes)
        }
        return .stored(sequence: sequence)
    }

    func checkWritable() throws {
        if closed || closing { throw SpoolError(.closed, "the spool \(layout.directory) is closed") }
        if let failure { throw failure }
    }

    /// Writes a new reservation to `spool.meta` (durably, under every policy) when `sequence` is beyond it.
    func reserve(through sequence: UInt64) throws {
        guard sequence > reservedThrough else { return }
        let reservation = sequence + Self.reservationBlock - 1
        do throws(POSIXError) {
            try writeMeta(reservedThrough: reservation, durable: true)
        } catch {
            metrics.appendErrors.increment()
            if error.isNoSpace {
                throw SpoolError(.noSpace, "no space to write \(layout.metaPath): \(error). Free disk space; "
                    + "appends work again once there is room.")
            }
            throw fail("cannot write \(layout.metaPath): \(error)")
        }
        reservedThrough = reservation
    }

    func writeMeta(reservedThrough: UInt64, durable: Bool) throws(POSIXError) {
        var meta = SpoolMeta(spoolID: id, reservedThrough: reservedThrough)
        meta.droppedBatches = droppedBatches
        meta.droppedBytes = droppedBytes
        meta.gaps = gapCount
        try StateFile.write(meta.encoded(), to: layout.metaPath, durable: durable)
    }

    /// Makes sure a tail segment with room exists, rolling a full one.
    func prepareTail() throws {
        if let tail, tail.writeOffset < Int64(configuration.segmentBytes) || tail.recordCount == 0 { return }
        try roll()
    }

    /// Seals the tail (if any) and starts a new segment named by the next sequence.
    func roll() throws {
        let first = nextSequence
        let path = layout.segmentPath(first)
        let previous = segments.last?.first ?? 0
        if let tail, tail.first == first { return }
        let header = SegmentHeader(spoolID: id, firstSequence: first, previousFirstSequence: previous).encoded()
        let fd: Int32
        do throws(POSIXError) {
            fd = try POSIXFile.open(path, O_WRONLY | O_CREAT | O_TRUNC)
            do throws(POSIXError) {
                try POSIXFile.write(fd, header, at: 0, path: path)
            } catch {
                POSIXFile.close(fd)
                try? POSIXFile.unlink(path)
                throw error
            }
        } catch {
            metrics.appendErrors.increment()
            if error.isNoSpace {
                throw SpoolError(.noSpace, "no space for a new segment \(path): \(error). Free disk space; "
                    + "appends work again once there is room.")
            }
            throw fail("cannot create segment \(path): \(error)")
        }
        if let old = tail {
            if configuration.fsync == .never {
                POSIXFile.close(old.fd)
            } else {
                unsyncedSealed.append(SpoolSyncer.File(fd: old.fd, path: old.path))
            }
        }
        tail = TailSegment(fd: fd, first: first, path: path, writeOffset: Int64(header.count), recordCount: 0)
        segments.append(SegmentInfo(first: first, bytes: Int64(header.count), recordCount: 0))
        directoryDirty = true
        metrics.segments.record(segments.count)
    }

    /// After a failed record write: a full disk truncates the partial record away and throws `.noSpace`; any
    /// other error fails the spool.
    func writeFailed(_ error: POSIXError, tail: TailSegment) -> SpoolError {
        if error.isNoSpace {
            do throws(POSIXError) {
                try POSIXFile.truncate(tail.fd, to: tail.writeOffset, path: tail.path)
            } catch {
                return fail("cannot truncate a partial record in \(tail.path) after a full disk: \(error)")
            }
            logger.warning("append refused: disk full", metadata: ["path": "\(tail.path)", "error": "\(error)"])
            return SpoolError(.noSpace, "no space left to append to \(tail.path) (\(error)); nothing was stored "
                + "and earlier records are intact. Segments the sinks have delivered are deleted as they commit and "
                + "appends resume by themselves; if no sink is delivering, free disk space.")
        }
        return fail("write to \(tail.path) failed: \(error)")
    }

    /// Puts the spool into the failed state: appends throw from now on, waiting appenders are told.
    @discardableResult
    func fail(_ reason: String) -> SpoolError {
        if let failure { return failure }
        let error = SpoolError(.failed(reason: reason), "the spool \(layout.directory) has failed and refuses appends: "
            + "\(reason). Data already acknowledged is on disk; check the disk and the kernel log, then restart.")
        failure = error
        logger.critical("spool failed", metadata: ["reason": "\(reason)"])
        resumeSyncWaiters()
        waiters.resumeReaders()
        waiters.resumeCapacity()
        return error
    }

    // MARK: - Group commit

    /// Returns once `sequence` is on stable storage, leading a sync or joining the one in flight.
    func waitSynced(through sequence: UInt64) async throws {
        while lastSynced < sequence {
            if let failure { throw failure }
            if syncInFlight {
                await withCheckedContinuation { syncWaiters.append($0) }
                continue
            }
            try await syncNow()
        }
    }

    /// One group commit: syncs everything written so far (sealed segments, the tail, the directory).
    func syncNow() async throws {
        let target = lastWritten
        var files = unsyncedSealed
        let sealedCount = files.count
        if let tail { files.append(SpoolSyncer.File(fd: tail.fd, path: tail.path)) }
        let directory = directoryDirty ? layout.segmentsDirectory : nil
        directoryDirty = false
        syncInFlight = true
        let started = ContinuousClock.now
        let result = await syncer.sync(files, directory: directory)
        syncInFlight = false
        let elapsed = ContinuousClock.now - started
        metrics.fsyncDuration.recordNanoseconds(elapsed.components.seconds * 1_000_000_000
            + elapsed.components.attoseconds / 1_000_000_000)
        switch result {
        case .success:
            metrics.groupCommitBatches.record(Int64(target - min(target, lastSynced)))
            for file in unsyncedSealed.prefix(sealedCount) { POSIXFile.close(file.fd) }
            unsyncedSealed.removeFirst(sealedCount)
            lastSynced = max(lastSynced, target)
            updateGauges()
            resumeSyncWaiters()
            // A blocked append may have skipped reclaiming the tail while this sync held its descriptor.
            waiters.resumeCapacity()
            waiters.resumeReaders()
        case .failure(let error):
            if directory != nil { directoryDirty = true }
            throw fail("\(error)")
        }
    }

    func resumeSyncWaiters() {
        let resumed = syncWaiters
        syncWaiters.removeAll()
        for waiter in resumed { waiter.resume() }
    }

    /// The `interval` policy's periodic flush.
    func flushForInterval() async {
        guard !closed, failure == nil, !syncInFlight, lastSynced < lastWritten || directoryDirty else { return }
        try? await syncNow()
    }

    // MARK: - Closing

    /// Flushes (unless the policy is `never`), records the exact last sequence, releases the lock. Waiting readers
    /// return `nil`; blocked appends throw `.closed`.
    public func close() async {
        guard !closing else { return }
        closing = true
        flusher?.cancel()
        if configuration.fsync != .never, failure == nil, lastSynced < lastWritten || directoryDirty {
            try? await waitSynced(through: lastWritten)
            if directoryDirty { try? await syncNow() }
        }
        if failure == nil {
            do {
                try writeMeta(reservedThrough: max(nextSequence - 1, 0), durable: configuration.fsync != .never)
                reservedThrough = nextSequence - 1
            } catch {
                logger.error("cannot record the last sequence on close", metadata: ["error": "\(error)"])
            }
        }
        closed = true
        if let tail { POSIXFile.close(tail.fd) }
        tail = nil
        for file in unsyncedSealed { POSIXFile.close(file.fd) }
        unsyncedSealed.removeAll()
        lock?.release()
        lock = nil
        resumeSyncWaiters()
        waiters.resumeReaders()
        waiters.resumeCapacity()
        logger.info("spool closed", metadata: ["last_sequence": "\(lastSequence)"])
    }

    // MARK: - Statistics

    /// A snapshot of the spool's state.
    public func statistics() -> SpoolStatistics {
        let first = firstSequence
        let last = lastSequence
        return SpoolStatistics(
            id: id,
            firstSequence: first,
            lastSequence: last,
            segmentCount: segments.count,
            bytes: totalBytes,
            cursors: cursors.keys.sorted().map { name in
                let committed = cursors[name]?.committed ?? 0
                return .init(name: name, committed: committed, backlog: backlog(committed: committed))
            },
            quarantinedRecords: quarantinedCount,
            droppedBatches: droppedBatches,
            droppedBytes: droppedBytes,
            gaps: gapCount,
            failure: failure?.message
        )
    }

    func backlog(committed: UInt64) -> UInt64 {
        let done = max(committed, firstSequence &- 1)
        return lastSequence > done ? lastSequence - done : 0
    }

    func updateGauges() {
        metrics.bytes.record(totalBytes)
        metrics.segments.record(segments.count)
        for (name, position) in cursors {
            metrics.backlog(cursor: name).record(backlog(committed: position.committed))
        }
    }
}

/// What the spool keeps in memory about a segment file.
struct SegmentInfo: Sendable, Equatable {
    var first: UInt64
    var bytes: Int64
    /// Records in the segment, when known (counted while appending; otherwise counted on demand).
    var recordCount: Int?
}

/// The segment appends go to.
struct TailSegment: Sendable {
    var fd: Int32
    var first: UInt64
    var path: String
    var writeOffset: Int64
    var recordCount: Int
}
