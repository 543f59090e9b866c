import LogFerrySpool
import LogFerrySystemd
import LogFerryWire
import Logging
import ServiceLifecycle

/// Reads the systemd journal into the spool: entries become events, events become sealed batches, and each
/// batch's record carries the cursor of its last entry, so the spool is the registry of the journal position.
///
/// On start the cursor is rebuilt from the spool (the snapshot in a cursor state plus the records after it) and
/// reading resumes after that entry: a kill -9 neither skips nor repeats one. When that entry is gone (its file
/// rotated away and vacuumed while the agent was down), reading resumes at the first entry after its position
/// that still exists, with a warning and `logferry_journal_cursor_missing_total`.
///
/// Pull-based like the file source: when the spool is full under `block`, `append` waits and no entry is read;
/// the entries wait in the journal. On graceful shutdown the open batch is sealed and stored before returning.
public struct JournalSource: Service {
    let spool: Spool
    let host: String
    let policy: BatchPolicy
    let configuration: JournalSourceConfiguration
    let logger: Logger
    let onReady: @Sendable () -> Void

    /// The cursor whose state holds the snapshot of the journal cursor.
    static let cursorName = "journal-source-cursor"

    /// Creates a journal source over `spool`; `onReady` is called once the journal is open and positioned.
    public init(
        spool: Spool,
        host: String,
        policy: BatchPolicy,
        configuration: JournalSourceConfiguration,
        logger: Logger,
        onReady: @escaping @Sendable () -> Void = {}
    ) {
        self.spool = spool
        self.host = host
        self.policy = policy
        self.configuration = configuration
        self.logger = logger
        self.onReady = onReady
    }

    /// Reads until graceful shutdown or cancellation.
    /// - Throws: ``JournalError`` when the journal cannot be opened or a match is refused; spool errors.
    public func run() async throws {
        let snapshotter = SpoolSnapshotter<JournalCursorState>(spool: spool, cursorName: Self.cursorName, logger: logger)
        let (state, through) = try await snapshotter.rebuild()
        var committedThrough = try await spool.cursor(named: Self.cursorName).committed
        if through > committedThrough {
            try await spool.commit(cursor: Self.cursorName, through: through, state: state.snapshot())
            committedThrough = through
        }
        let start = JournalReadState(cursor: state.cursor, storedThrough: through, committedThrough: committedThrough)
        // Fields longer than a line may be are of no use. The threshold counts the `MESSAGE=` prefix too; a little
        // more than the cap, so that a message over it is seen, cut and counted.
        try await JournalReader.withReader(configuration.location, dataThreshold: configuration.maxLineBytes + 64) { reader in
            try await read(reader, from: start)
        }
    }

    private func read(_ reader: JournalReader, from start: JournalReadState) async throws {
        for match in configuration.matches {
            if match == "+" {
                try await reader.addDisjunction()
            } else {
                try await reader.addMatch(match)
            }
        }
        let metrics = JournalMetrics()
        let outcome = try await reader.seek(after: start.cursor, otherwise: configuration.start)
        report(outcome, cursor: start.cursor, through: start.storedThrough, metrics: metrics)
        var unreadableWarned = 0
        func warnAboutUnreadableFiles() async throws {
            let unreadable = try await reader.unreadableFiles()
            guard unreadable.count > unreadableWarned else { return }
            unreadableWarned = unreadable.count
            logger.warning("""
                \(unreadable.count) journal file(s) in \(configuration.location) cannot be read by this user (\(unreadable.prefix(3).joined(separator: ", "))\
                \(unreadable.count > 3 ? ", ..." : "")): their entries are not shipped. Give the user read access, e.g. the \
                systemd-journal or adm group (SupplementaryGroups= in the unit).
                """)
        }
        try await warnAboutUnreadableFiles()
        onReady()

        var state = start
        var assembler = BatchAssembler(policy: policy)
        var encoder = BatchEncoder(level: policy.compressionLevel)
        /// The cursor of the last entry in the open batch.
        var batchCursor = start.cursor
        var lastSnapshot = ContinuousClock.now

        func commitSnapshot(through sequence: UInt64) async throws {
            try await spool.commit(cursor: Self.cursorName, through: sequence, state: JournalCursorState(cursor: state.cursor).snapshot())
            state.committedThrough = sequence
            lastSnapshot = .now
        }

        func seal(interruptible: Bool) async throws {
            guard !assembler.isEmpty else { return }
            let batch = assembler.take(host: host)
            var metadata = RecordMetadata()
            metadata.journalCursor = batchCursor
            let encoded = metadata.encoded()
            let payload = try encoder.encode(batch).serializedParts()
            // A graceful shutdown must not wait for ever on a full spool: the batch is then not stored, the
            // stored cursor does not move, and its entries are read again after the restart.
            let result = interruptible
                ? try await cancelWhenGracefulShutdown { [spool, logger] in
                    try await spool.appendWaitingForSpace(parts: payload, metadata: encoded, logger: logger)
                }
                : try await spool.appendWaitingForSpace(parts: payload, metadata: encoded, logger: logger)
            switch result {
            case .stored(let sequence):
                state.storedThrough = sequence
                state.cursor = batchCursor
                // The snapshot cursor pins the records after it: under capacity pressure it follows every batch,
                // otherwise a full spool under `block` would wait for space only its next move frees.
                let pressed = await spool.isUnderCapacityPressure
                if pressed || ContinuousClock.now - lastSnapshot >= .seconds(2) {
                    try await commitSnapshot(through: sequence)
                }
            case .dropped:
                metrics.droppedBatches.increment()
                logger.warning("spool \(spool.configuration.directory) is full (drop-newest): dropped a batch of \(batch.events.count) journal entries")
            }
        }

        do {
            while !Task.isCancelled, !Task.isShuttingDownGracefully {
                let entries: [JournalEntry]
                do {
                    entries = try await reader.next(
                        limit: max(1, min(512, policy.maxEvents - assembler.events.count)),
                        fields: JournalEventMapping.requestedFields
                    )
                } catch let error as JournalError {
                    metrics.readErrors.increment()
                    logger.error("reading \(configuration.location): \(error); retrying in a second")
                    try await Task.sleep(for: .seconds(1))
                    continue
                }
                let now = WallClock.nanosecondsSinceEpoch()
                for entry in entries {
                    let (event, cut) = JournalEventMapping.event(from: entry, readAt: now, maxLineBytes: configuration.maxLineBytes)
                    if cut { metrics.linesCut.increment() }
                    metrics.entries.increment()
                    assembler.add(event)
                    batchCursor = entry.cursor
                    if assembler.isFull { try await seal(interruptible: true) }
                }
                if assembler.isDue(at: .now) {
                    try await seal(interruptible: true)
                }
                guard entries.isEmpty else { continue }
                if assembler.isEmpty {
                    // Idle with everything read stored: move the snapshot to the spool's last record (records other
                    // sources wrote since carry no cursor), or it pins segments the sinks have delivered.
                    let last = await spool.lastSequence
                    let due = ContinuousClock.now - lastSnapshot >= .seconds(2)
                    if state.storedThrough > state.committedThrough || (last > state.committedThrough && due) {
                        let through = max(last, state.storedThrough)
                        try await spool.waitUntilDurable(through: through)
                        try await commitSnapshot(through: through)
                    }
                }
                // Wait on the reader's thread for new entries, at most until the open batch falls due.
                var timeout = configuration.pollInterval
                if let deadline = assembler.deadline {
                    timeout = max(.milliseconds(1), min(timeout, deadline - .now))
                }
                if try await reader.wait(timeout: timeout) == .filesChanged {
                    metrics.filesChanged.increment()
                    try await warnAboutUnreadableFiles()
                    // Also seen when a writer such as systemd-journal-remote opens or closes a file: info, not notice.
                    logger.info("journal files changed in \(configuration.location) (added, rotated or vacuumed); reading continues from the current entry")
                }
            }
        } catch is CancellationError {
            // Shut down while waiting for spool space: the open batch was not stored; its entries are read again
            // after the restart.
            return
        }
        // Store the open batch on the way out, unless the spool is too full to take it without waiting.
        if await !spool.isUnderCapacityPressure {
            try await seal(interruptible: false)
        }
        guard assembler.isEmpty else {
            logger.notice("spool under capacity pressure at shutdown: \(assembler.events.count) journal entries read but not stored are read again after the restart")
            return
        }
        if state.storedThrough > state.committedThrough {
            try? await commitSnapshot(through: state.storedThrough)
        }
    }

    /// Logs where reading starts; a cursor that is gone is a warning and is counted.
    private func report(_ outcome: JournalSeekOutcome, cursor: String?, through: UInt64, metrics: JournalMetrics) {
        let location = configuration.location
        switch outcome {
        case .head:
            logger.info("no stored journal cursor: reading \(location) from its oldest entry")
        case .tail:
            logger.info("no stored journal cursor: reading \(location) from its newest entry on (--journal-from tail)")
        case .afterCursor:
            logger.info("resuming \(location) after the stored journal cursor (spool records through \(through))")
        case .cursorMissing(let first):
            metrics.cursorMissing.increment()
            let position = cursor.flatMap(JournalCursorState.realtime(of:)).map { " (an entry of \(JournalEventMapping.rfc3339(microseconds: $0)))" } ?? ""
            let next = first.map { "the first entry after its position still there, written \(JournalEventMapping.rfc3339(microseconds: $0))" }
                ?? "the next entry written after its position"
            logger.warning("""
                the stored journal cursor\(position) is no longer in \(location): its file was rotated away or vacuumed, \
                the --journal-match set changed, or this is another journal. Resuming at \(next); entries removed \
                before they were read are not shipped. Counted in logferry_journal_cursor_missing_total.
                """)
        case .cursorInvalid:
            metrics.cursorMissing.increment()
            logger.warning("the stored journal cursor '\(cursor ?? "")' is not a journal cursor; reading \(location) from its oldest entry. Counted in logferry_journal_cursor_missing_total.")
        }
    }
}

/// Where the journal source stands against the spool.
struct JournalReadState: Sendable {
    /// The cursor of the last entry in a stored record.
    var cursor: String?
    /// The spool record that holds it (or a later one).
    var storedThrough: UInt64
    /// Where the snapshot cursor stands.
    var committedThrough: UInt64
}
