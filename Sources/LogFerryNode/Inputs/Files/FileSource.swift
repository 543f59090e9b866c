import LogFerrySpool
import LogFerryWire
import Logging
import Metrics
import ServiceLifecycle

/// Tails files into the spool: lines become events, events become sealed batches, and each batch's record
/// carries the offsets its lines reached, so the spool is the registry of file positions.
///
/// Pull-based: when the spool is full under `block`, `append` waits and no file is read; the lines wait in
/// the files. On graceful shutdown the open batch is sealed and stored before returning.
///
/// Lines (multi-line events, with ``MultilineConfiguration``) that the ``LineFilter`` drops are counted in
/// `logferry_source_lines_filtered_total{source="file"}` and their offsets advance all the same: they are stored
/// with the next record, or committed in the snapshot when the tailer is idle, so a restart does not read them again.
public struct FileSource: Service {
    let spool: Spool
    let host: String
    let policy: BatchPolicy
    let tailer: FileTailerConfiguration
    let logger: Logger
    let filter: LineFilter

    /// The cursor whose state holds the snapshot of file offsets.
    static let offsetsCursor = "file-source-offsets"

    /// Creates a file source over `spool`; `filter` decides which lines (events) are kept.
    public init(
        spool: Spool, host: String, policy: BatchPolicy, tailer: FileTailerConfiguration, filter: LineFilter = .none,
        logger: Logger
    ) {
        self.spool = spool
        self.host = host
        self.policy = policy
        self.tailer = tailer
        self.filter = filter
        self.logger = logger
    }

    /// Tails until graceful shutdown or cancellation.
    public func run() async throws {
        let snapshotter = SpoolSnapshotter<FileOffsets>(spool: spool, cursorName: Self.offsetsCursor, logger: logger)
        let (offsets, through) = try await snapshotter.rebuild()
        logger.info("resuming \(offsets.checkpoints.count) file(s) from the spool's offsets (through sequence \(through))")
        // The offsets as of the last record are known now: move the snapshot cursor there, so it pins nothing
        // the sinks have delivered (a full disk frees only what every cursor has passed).
        var committedThrough = try await spool.cursor(named: Self.offsetsCursor).committed
        if through > committedThrough {
            try await spool.commit(cursor: Self.offsetsCursor, through: through, state: offsets.snapshot())
            committedThrough = through
        }
        var storedThrough = through
        let tailer = FileTailer(configuration: self.tailer, checkpoints: Array(offsets.checkpoints.values), logger: logger)
        var assembler = BatchAssembler(policy: policy)
        var encoder = BatchEncoder(level: policy.compressionLevel, compressor: policy.compressor)
        var touched: [FileIdentityKey: FileCheckpoint] = [:]
        var lastSnapshot = ContinuousClock.now
        let dropped = Counter(label: "logferry_ingest_dropped_batches_total")
        let filtered = Counter(label: "logferry_source_lines_filtered_total", dimensions: [("source", "file")])
        // Lines dropped by the filter since the snapshot was last committed: their offsets are in no record yet.
        var filteredSinceCommit = false

        func seal(interruptible: Bool) async throws {
            guard !assembler.isEmpty else { return }
            let batch = assembler.take(host: host)
            let metadata = RecordMetadata(fileCheckpoints: FileCheckpoint.encode(Array(touched.values))).encoded()
            touched.removeAll(keepingCapacity: true)
            let sealed = try encoder.encode(batch)
            // A graceful shutdown must not wait for ever on a full spool: the batch is then not stored, its
            // offsets not advanced, and its lines are read again after the restart.
            let payload = sealed.serialized()
            let result = interruptible
                ? try await cancelWhenGracefulShutdown { [spool, logger] in
                    try await spool.appendWaitingForSpace(payload, metadata: metadata, logger: logger)
                }
                : try await spool.appendWaitingForSpace(payload, metadata: metadata, logger: logger)
            switch result {
            case .stored(let sequence):
                storedThrough = sequence
                // Every line handed out is now in a stored batch: the tailer's checkpoints are exactly the
                // registry as of this record, which makes a compact snapshot (forgotten files drop out).
                // The snapshot cursor pins the records after it, so when a capped spool fills up it must
                // follow every batch: otherwise a full spool under `block` waits for space that only this
                // cursor's next move would free.
                let pressed = await spool.isUnderCapacityPressure
                if pressed || ContinuousClock.now - lastSnapshot >= .seconds(2) {
                    try await spool.commit(cursor: Self.offsetsCursor, through: sequence, state: FileCheckpoint.encode(tailer.checkpoints))
                    committedThrough = sequence
                    lastSnapshot = .now
                }
            case .dropped:
                dropped.increment()
                logger.warning("spool \(spool.configuration.directory) is full (drop-newest): dropped a batch of \(batch.events.count) file lines")
            }
        }

        do {
            while !Task.isCancelled, !Task.isShuttingDownGracefully {
                var lines = tailer.poll(
                    maxLines: max(1, policy.maxEvents - assembler.events.count),
                    maxBytes: max(1, policy.maxBytes - assembler.bytes)
                )
                let now = WallClock.nanosecondsSinceEpoch()
                var filteredNow = 0
                // By index, moving each line's bytes into its event: copying a `TailedLine` out of the array (its
                // path, its bytes) and releasing it again cost more per line than the rest of this loop.
                for index in lines.indices {
                    // A dropped line's offset still goes into the next record: it is not read again. Lines come
                    // in runs per file, so the checkpoint is noted once per run, at its last line.
                    let identity = lines[index].identity
                    if index == lines.count - 1 || FileIdentityKey(lines[index + 1].identity) != FileIdentityKey(identity) {
                        touched[FileIdentityKey(identity)] = FileCheckpoint(
                            identity: identity, path: lines[index].path, offset: lines[index].endOffset)
                    }
                    guard filter.admits(lines[index].line) else {
                        filteredNow += 1
                        continue
                    }
                    var bytes: [UInt8] = []
                    swap(&bytes, &lines[index].line)
                    assembler.add(Event(timestamp: now, source: lines[index].path, line: bytes))
                }
                if filteredNow > 0 {
                    filtered.increment(by: Int64(filteredNow))
                    filteredSinceCommit = true
                }
                if assembler.isFull || assembler.isDue(at: .now) {
                    try await seal(interruptible: true)
                    continue
                }
                if lines.isEmpty, assembler.isEmpty, storedThrough > committedThrough || filteredSinceCommit {
                    // Idle with every line read stored: the checkpoints are exactly those of the last record.
                    // Commit them now, or segments the sinks have delivered stay on disk until the next line.
                    // Lines dropped by the filter since are in no record: this commit is what keeps them read.
                    let through = max(storedThrough, committedThrough)
                    try await spool.commit(cursor: Self.offsetsCursor, through: through, state: FileCheckpoint.encode(tailer.checkpoints))
                    committedThrough = through
                    lastSnapshot = .now
                    filteredSinceCommit = false
                    touched.removeAll(keepingCapacity: true)
                }
                if lines.isEmpty {
                    // Wake for new lines, or at the open batch's linger deadline.
                    await tailer.waitForChange(notAfter: assembler.deadline)
                }
            }
        } catch is CancellationError {
            // Shut down while waiting for spool space: the open batch was not stored; its lines are read
            // again after the restart.
            return
        }
        // Store the open batch on the way out, unless the spool is too full to take it without waiting.
        if await !spool.isUnderCapacityPressure {
            try await seal(interruptible: false)
        }
        // The tailer's checkpoints also cover the open batch's lines: commit them only once that batch is
        // stored. Otherwise the offsets stay those of the stored records and the lines are read again after
        // the restart.
        guard assembler.isEmpty else {
            logger.notice("spool under capacity pressure at shutdown: \(assembler.events.count) file lines read but not stored are left to be read again after the restart")
            return
        }
        let last = await spool.lastSequence
        if last > 0 {
            try? await spool.commit(cursor: Self.offsetsCursor, through: last, state: FileCheckpoint.encode(tailer.checkpoints))
        }
    }
}
