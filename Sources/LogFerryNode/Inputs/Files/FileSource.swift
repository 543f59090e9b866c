import LogFerrySpool
import LogFerryWire
import Logging
import Metrics
import ServiceLifecycle

/// Tails files into the spool: lines are encoded into a batch body as they are read (``BatchBodyBuilder``), each
/// body is sealed, and its record carries the offsets its lines reached, so the spool is the registry of file
/// positions.
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
        // Lines go straight into the open batch's body: no array or event per line. The batch is one value that
        // `seal` takes `inout` and no local function captures, so the per-line closure's accesses to it are
        // checked at compile time, not at run time for every line (about 1% of the agent's CPU in a profile).
        var batch = OpenBatch(
            builder: BatchBodyBuilder(capacity: policy.maxBytes),
            encoder: BatchEncoder(level: policy.compressionLevel, compressor: policy.compressor))
        var lastSnapshot = ContinuousClock.now
        let dropped = Counter(label: "logferry_ingest_dropped_batches_total")
        let filtered = Counter(label: "logferry_source_lines_filtered_total", dimensions: [("source", "file")])
        // Lines dropped by the filter since the snapshot was last committed: their offsets are in no record yet.
        var filteredSinceCommit = false

        func seal(_ batch: inout OpenBatch, interruptible: Bool) async throws {
            guard !batch.builder.isEmpty else { return }
            let lineCount = batch.builder.eventCount
            let metadata = RecordMetadata(fileCheckpoints: FileCheckpoint.encode(Array(batch.touched.values))).encoded()
            batch.touched.removeAll(keepingCapacity: true)
            batch.openedAt = nil
            let sealed = try batch.encoder.encode(&batch.builder, host: host)
            // A graceful shutdown must not wait for ever on a full spool: the batch is then not stored, its
            // offsets not advanced, and its lines are read again after the restart.
            let payload = sealed.serializedParts()
            let result = interruptible
                ? try await cancelWhenGracefulShutdown { [spool, logger] in
                    try await spool.appendWaitingForSpace(parts: payload, metadata: metadata, logger: logger)
                }
                : try await spool.appendWaitingForSpace(parts: payload, metadata: metadata, logger: logger)
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
                logger.warning("spool \(spool.configuration.directory) is full (drop-newest): dropped a batch of \(lineCount) file lines")
            }
        }

        do {
            while !Task.isCancelled, !Task.isShuttingDownGracefully {
                let now = WallClock.nanosecondsSinceEpoch()
                var polled = 0
                var filteredNow = 0
                // A dropped line's offset still goes into the next record: it is not read again. Lines come in
                // runs per file, so the checkpoint is noted once per run, at its last line.
                var run: (key: FileIdentityKey, identity: FileIdentity, path: String)?
                var runEnd: UInt64 = 0
                tailer.poll(
                    maxLines: max(1, policy.maxEvents - batch.builder.eventCount),
                    maxBytes: max(1, policy.maxBytes - batch.builder.byteCount)
                ) { line in
                    polled += 1
                    let key = FileIdentityKey(line.identity)
                    if key != run?.key {
                        if let run { batch.touched[run.key] = FileCheckpoint(identity: run.identity, path: run.path, offset: runEnd) }
                        run = (key, line.identity, line.path)
                    }
                    runEnd = line.endOffset
                    guard filter.admits(line.line) else {
                        filteredNow += 1
                        return
                    }
                    if batch.builder.isEmpty { batch.openedAt = .now }
                    batch.builder.append(line: line.line, source: line.path, timestamp: now)
                }
                if let run { batch.touched[run.key] = FileCheckpoint(identity: run.identity, path: run.path, offset: runEnd) }
                if filteredNow > 0 {
                    filtered.increment(by: Int64(filteredNow))
                    filteredSinceCommit = true
                }
                if policy.isFull(events: batch.builder.eventCount, bytes: batch.builder.byteCount)
                    || policy.isDue(openedAt: batch.openedAt, at: .now)
                {
                    try await seal(&batch, interruptible: true)
                    continue
                }
                if polled == 0, batch.builder.isEmpty, storedThrough > committedThrough || filteredSinceCommit {
                    // Idle with every line read stored: the checkpoints are exactly those of the last record.
                    // Commit them now, or segments the sinks have delivered stay on disk until the next line.
                    // Lines dropped by the filter since are in no record: this commit is what keeps them read.
                    let through = max(storedThrough, committedThrough)
                    try await spool.commit(cursor: Self.offsetsCursor, through: through, state: FileCheckpoint.encode(tailer.checkpoints))
                    committedThrough = through
                    lastSnapshot = .now
                    filteredSinceCommit = false
                    batch.touched.removeAll(keepingCapacity: true)
                }
                if polled == 0 {
                    // Wake for new lines, or at the open batch's linger deadline.
                    await tailer.waitForChange(notAfter: policy.deadline(openedAt: batch.openedAt))
                }
            }
        } catch is CancellationError {
            // Shut down while waiting for spool space: the open batch was not stored; its lines are read
            // again after the restart.
            return
        }
        // Store the open batch on the way out, unless the spool is too full to take it without waiting.
        if await !spool.isUnderCapacityPressure {
            try await seal(&batch, interruptible: false)
        }
        // The tailer's checkpoints also cover the open batch's lines: commit them only once that batch is
        // stored. Otherwise the offsets stay those of the stored records and the lines are read again after
        // the restart.
        guard batch.builder.isEmpty else {
            logger.notice("spool under capacity pressure at shutdown: \(batch.builder.eventCount) file lines read but not stored are left to be read again after the restart")
            return
        }
        let last = await spool.lastSequence
        if last > 0 {
            try? await spool.commit(cursor: Self.offsetsCursor, through: last, state: FileCheckpoint.encode(tailer.checkpoints))
        }
    }
}

extension FileSource {
    /// The batch being filled: its body, its encoder, when its first line came, and the file positions its lines
    /// reached.
    struct OpenBatch {
        var builder: BatchBodyBuilder
        var encoder: BatchEncoder
        var openedAt: ContinuousClock.Instant?
        var touched: [FileIdentityKey: FileCheckpoint] = [:]
    }
}
