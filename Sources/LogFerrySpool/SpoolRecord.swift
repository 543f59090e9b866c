/// One stored batch as a reader sees it.
public struct SpoolRecord: Sendable, Equatable {
    /// The record's sequence: starts at 1, increases, never repeats for the life of the spool (gaps may occur).
    public var sequence: UInt64
    /// Caller-defined bytes stored with the batch (source offsets, upstream spool id and sequence).
    public var metadata: [UInt8]
    /// The sealed batch.
    public var payload: [UInt8]

    /// Makes a record value.
    public init(sequence: UInt64, metadata: [UInt8], payload: [UInt8]) {
        self.sequence = sequence
        self.metadata = metadata
        self.payload = payload
    }
}

/// What became of an append.
public enum SpoolAppendResult: Sendable, Equatable {
    /// The batch is stored (durable under the fsync policy) with this sequence.
    case stored(sequence: UInt64)
    /// The spool is full and its policy is `drop-newest`: the batch was not stored (and was counted).
    case dropped
}

/// A named cursor: how far its sink has durably delivered, with the sink's own state saved atomically with it.
public struct SpoolCursorPosition: Sendable, Equatable {
    /// Every record with a sequence up to and including this one is done for the cursor's sink.
    public var committed: UInt64
    /// Opaque sink state (e.g. output file lengths) saved in the same atomic write as `committed`.
    public var state: [UInt8]

    /// Makes a position value.
    public init(committed: UInt64, state: [UInt8] = []) {
        self.committed = committed
        self.state = state
    }
}
