import Logging

/// Brings a spool directory to a consistent state when it is opened (Docs/SPOOL.md, "Recovery").
///
/// Only the newest segment is read, so the cost does not grow with the backlog. A torn tail is truncated; damaged
/// records are copied to `quarantine/` and skipped; damaged or missing state files are rebuilt from the segments.
/// Only an unusable directory, permissions or the lock make it throw.
enum SpoolRecovery {
    /// What the spool starts from after recovery.
    struct State {
        var id: SpoolID
        var lock: SpoolLock
        var meta: SpoolMeta
        var segments: [SegmentInfo]
        var tail: TailSegment?
        var lastSequence: UInt64
        var nextSequence: UInt64
        var reservedThrough: UInt64
        var cursors: [String: SpoolCursorPosition]
        var quarantined: UInt64
    }

    /// Recovers the spool at `layout`, step by step (each in `SpoolRecovery+Steps.swift`); every step uses what the
    /// steps before it found.
    static func recover(
        configuration: SpoolConfiguration, layout: SpoolLayout, logger: Logger, metrics: SpoolMetrics
    ) throws -> State {
        let lock = try prepareDirectory(layout)
        var run = Run(layout: layout, logger: logger, metrics: metrics)
        let metaFile = run.readMeta()
        let segments = try run.recoverNewestSegment()
        let spoolID = run.bindIdentity(run.settleSpoolID(metaFile: metaFile, segments: segments))
        var cursors = run.readCursors()
        let sequences = run.reserveSequences(
            metaFile: metaFile, spoolID: spoolID, segments: segments, cursors: cursors.positions)
        run.recordIdentity()
        run.restartDamagedCursors(&cursors, segments: segments, lastSequence: sequences.last)
        var meta = sequences.meta
        run.countGap(in: segments, meta: &meta)
        return State(
            id: spoolID, lock: lock, meta: meta, segments: run.segmentInfos(segments), tail: segments.tail,
            lastSequence: sequences.last, nextSequence: sequences.next, reservedThrough: sequences.reservedThrough,
            cursors: cursors.positions, quarantined: run.quarantined)
    }
}
