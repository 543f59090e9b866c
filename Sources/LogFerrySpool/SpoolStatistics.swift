/// A snapshot of a spool's state, for operators and tests (`Spool.statistics()`).
public struct SpoolStatistics: Sendable, Codable, Equatable {
    /// One cursor's progress.
    public struct Cursor: Sendable, Codable, Equatable {
        /// The cursor's name.
        public var name: String
        /// The committed sequence.
        public var committed: UInt64
        /// Sequences stored above the committed one (an upper bound on records: sequences may have gaps).
        public var backlog: UInt64
    }

    /// The spool id.
    public var id: SpoolID
    /// The oldest sequence still stored (`lastSequence + 1` when empty).
    public var firstSequence: UInt64
    /// The highest sequence readers may see.
    public var lastSequence: UInt64
    /// Segment files present.
    public var segmentCount: Int
    /// Bytes in segment files.
    public var bytes: Int64
    /// Every cursor, sorted by name.
    public var cursors: [Cursor]
    /// Damaged stretches copied to `quarantine/` (over the life of the directory).
    public var quarantinedRecords: UInt64
    /// Batches dropped by a capacity policy (over the life of the spool).
    public var droppedBatches: UInt64
    /// Record bytes dropped by a capacity policy.
    public var droppedBytes: UInt64
    /// Missing middle segments found.
    public var gaps: UInt64
    /// Why the spool refuses appends, when it is in the failed state.
    public var failure: String?
}
