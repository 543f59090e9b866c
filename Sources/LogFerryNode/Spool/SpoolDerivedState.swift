import LogFerrySpool
import Logging

/// State a node derives from the metadata of its spool records (resume points, file offsets).
///
/// The records themselves are the truth; a snapshot saved now and then in a cursor's state bounds how much of
/// the spool a restart has to read. The snapshot cursor also pins the records after it, so the spool never
/// deletes a record whose metadata is not yet in a snapshot.
protocol SpoolDerivedState: Sendable {
    /// The state of an empty spool.
    init()
    /// Restores a snapshot made by `snapshot()`.
    init(snapshot: [UInt8]) throws
    /// The bytes of a snapshot.
    func snapshot() -> [UInt8]
    /// Folds in the metadata of the record `sequence`.
    mutating func apply(_ metadata: RecordMetadata, sequence: UInt64)
}

/// Rebuilds a `SpoolDerivedState` on start and keeps its snapshot fresh while the node runs.
struct SpoolSnapshotter<State: SpoolDerivedState>: Sendable {
    /// The spool followed.
    let spool: Spool
    /// The cursor whose state holds the snapshot (and which pins the records after it).
    let cursorName: String
    /// How often a changed state is saved.
    var interval: Duration
    /// When the follower has caught up with the spool, how long after the last save it waits for another
    /// record before saving what it has.
    static var caughtUpGap: Duration { .milliseconds(250) }
    let logger: Logger

    /// Creates a snapshotter over the cursor `cursorName` of `spool`.
    init(spool: Spool, cursorName: String, interval: Duration = .seconds(1), logger: Logger) {
        self.spool = spool
        self.cursorName = cursorName
        self.interval = interval
        self.logger = logger
    }

    /// Loads the snapshot and folds in every record after it: the state as of the spool's last record.
    /// Costs one read of the records written since the last snapshot, not of the whole backlog.
    func rebuild() async throws -> (state: State, through: UInt64) {
        let position = try await spool.cursor(named: cursorName)
        var state: State
        if position.state.isEmpty {
            state = State()
        } else {
            do {
                state = try State(snapshot: position.state)
            } catch {
                logger.error("snapshot in cursor '\(cursorName)' of spool \(spool.configuration.directory) does not parse (\(error)); rebuilding from the records still stored")
                state = State()
            }
        }
        var through = position.committed
        let reader = spool.makeReader(from: position.committed + 1)
        while let record = try await reader.nextIfAvailable() {
            Self.fold(record, into: &state, logger: logger)
            through = record.sequence
        }
        return (state, through)
    }

    /// Follows new records from `through + 1`, saving a snapshot at most every `interval`, until cancelled;
    /// saves a last snapshot on the way out.
    func follow(state initial: State, through initialThrough: UInt64) async throws {
        var state = initial
        var through = initialThrough
        var saved = initialThrough
        var lastSave = ContinuousClock.now
        let reader = spool.makeReader(from: through + 1)
        defer { _ = reader }
        do {
            while true {
                var next = try await reader.nextIfAvailable()
                if next == nil, through != saved {
                    // Caught up with something unsaved: save before waiting. Besides bounding the restart's
                    // reading, this unpins the segments behind us; a full spool under `block` frees space only
                    // once every cursor has passed a segment, and no new record would come to trigger a save.
                    // In a live stream the follower catches up after almost every record: give the next one
                    // until `caughtUpGap` after the last save to arrive, so a busy listener saves a few times a
                    // second instead of once a record (each save is a write, an fdatasync and a rename).
                    let due = lastSave + Self.caughtUpGap
                    while next == nil, ContinuousClock.now < due {
                        try await Task.sleep(for: min(.milliseconds(20), due - .now))
                        next = try await reader.nextIfAvailable()
                    }
                    if next == nil {
                        try await spool.waitUntilDurable(through: through)
                        try await spool.commit(cursor: cursorName, through: through, state: state.snapshot())
                        saved = through
                        lastSave = .now
                    }
                }
                if next == nil {
                    next = try await reader.next()
                }
                guard let record = next else { break }
                Self.fold(record, into: &state, logger: logger)
                through = record.sequence
                // Under pressure (a capped spool half full, a nearly full disk) the snapshot follows every
                // record, so that it never pins what the sinks have delivered.
                let pressed = await spool.isUnderCapacityPressure
                if pressed || ContinuousClock.now - lastSave >= interval {
                    try await spool.waitUntilDurable(through: through)
                    try await spool.commit(cursor: cursorName, through: through, state: state.snapshot())
                    saved = through
                    lastSave = .now
                }
            }
        } catch is CancellationError {
            // Shutting down: fall through to the final save.
        }
        if through != saved {
            try await spool.waitUntilDurable(through: through)
            try await spool.commit(cursor: cursorName, through: through, state: state.snapshot())
        }
    }

    private static func fold(_ record: SpoolRecord, into state: inout State, logger: Logger) {
        do {
            state.apply(try RecordMetadata(decoding: record.metadata), sequence: record.sequence)
        } catch {
            NodeMetrics.metadataErrors.increment()
            logger.warning("spool record \(record.sequence): \(error)")
        }
    }
}
