/// What `SpoolInspector.inspect` found: the summary behind `logferry spool inspect`.
public struct SpoolReport: Sendable, Codable, Equatable {
    /// One segment file.
    public struct Segment: Sendable, Codable, Equatable {
        /// The file name.
        public var name: String
        /// The first sequence it may hold (its name).
        public var firstSequence: UInt64
        /// Its size in bytes.
        public var bytes: Int64
        /// When the segment was last written (seconds since the epoch): the seal time of its newest record.
        public var lastWritten: Double?
        /// Whether every cursor has passed it: kept only for replay (`retain-bytes`, `retain-age`).
        public var retained: Bool
    }

    /// The spool directory.
    public var directory: String
    /// The spool id (hex), when `spool.meta` or a segment header names it.
    public var spoolID: String?
    /// The oldest sequence stored (`lastSequence + 1` when empty).
    public var firstSequence: UInt64
    /// The newest sequence stored in the newest segment with records.
    public var lastSequence: UInt64
    /// No sequence above this has been handed out (from `spool.meta`).
    public var reservedThrough: UInt64?
    /// Segment files, oldest first.
    public var segments: [Segment]
    /// Bytes in segment files.
    public var bytes: Int64
    /// Every cursor with its backlog.
    public var cursors: [SpoolStatistics.Cursor]
    /// Files in `quarantine/`.
    public var quarantined: UInt64
    /// Batches and bytes dropped by the capacity policy (as of the last write of `spool.meta`).
    public var droppedBatches: UInt64
    public var droppedBytes: UInt64
    /// Missing middle segments found so far.
    public var gaps: UInt64
    /// The pid named in the lock file, when that process is alive.
    public var lockHolderPID: Int32?
    /// State files that could not be read.
    public var problems: [String]

    /// Bytes of segments kept only for replay.
    public var retainedBytes: Int64 { segments.filter(\.retained).reduce(0) { $0 + $1.bytes } }

    /// When the oldest retained segment was last written, if any is retained.
    public var oldestRetainedWrite: Double? { segments.first(where: \.retained)?.lastWritten }

    /// What `--replay-since` a time would send at most: the segments written at or after `since` (seconds
    /// since the epoch), whole (a segment's records may start before `since`; the sink skips those).
    public func replayEstimate(since: Double) -> (segments: Int, bytes: Int64) {
        let chosen = segments.filter { ($0.lastWritten ?? .infinity) >= since }
        return (chosen.count, chosen.reduce(0) { $0 + $1.bytes })
    }
}

/// What `SpoolInspector.verify` found: every record checked (`logferry spool verify`).
public struct SpoolVerifyReport: Sendable, Codable, Equatable {
    /// One finding, located by segment file and byte offset.
    public struct Finding: Sendable, Codable, Equatable {
        /// The file (a segment name, or a state file path relative to the spool).
        public var file: String
        /// Byte offset in the file.
        public var offset: Int
        /// Bytes affected.
        public var length: Int
        /// `crc`, `garbage`, `torn-tail`, `header`, `gap`, `state`.
        public var kind: String
        /// What is wrong, for the operator.
        public var message: String
    }

    /// The spool directory.
    public var directory: String
    /// Segment files read.
    public var segmentsChecked: Int
    /// Records whose CRC32C matched.
    public var recordsChecked: Int
    /// Bytes read.
    public var bytesChecked: Int64
    /// Damage: any entry here makes `isCorrupt` true.
    public var problems: [Finding]
    /// Not damage: e.g. a torn tail the next open truncates (or a write in progress while a node runs).
    public var warnings: [Finding]
    /// Whether anything is damaged (`logferry spool verify` exits with 1).
    public var isCorrupt: Bool { !problems.isEmpty }

    private enum CodingKeys: String, CodingKey {
        case directory, segmentsChecked, recordsChecked, bytesChecked, problems, warnings, isCorrupt
    }

    /// Encodes every field and `isCorrupt`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(directory, forKey: .directory)
        try container.encode(segmentsChecked, forKey: .segmentsChecked)
        try container.encode(recordsChecked, forKey: .recordsChecked)
        try container.encode(bytesChecked, forKey: .bytesChecked)
        try container.encode(problems, forKey: .problems)
        try container.encode(warnings, forKey: .warnings)
        try container.encode(isCorrupt, forKey: .isCorrupt)
    }

    /// Decodes the fields (`isCorrupt` is derived).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        directory = try container.decode(String.self, forKey: .directory)
        segmentsChecked = try container.decode(Int.self, forKey: .segmentsChecked)
        recordsChecked = try container.decode(Int.self, forKey: .recordsChecked)
        bytesChecked = try container.decode(Int64.self, forKey: .bytesChecked)
        problems = try container.decode([Finding].self, forKey: .problems)
        warnings = try container.decode([Finding].self, forKey: .warnings)
    }

    init(directory: String) {
        self.directory = directory
        segmentsChecked = 0
        recordsChecked = 0
        bytesChecked = 0
        problems = []
        warnings = []
    }
}
