/// How a spool is laid out and how it behaves; passed to `Spool.open`.
public struct SpoolConfiguration: Sendable {
    /// The spool directory; created when missing.
    public var directory: String
    /// A segment is sealed and a new one started once it holds at least this many bytes. An upper bound: on
    /// open it is lowered to at most 1/8 of ``maxBytes`` and of the filesystem's size (logged), and
    /// ``Spool/configuration`` holds the size in use.
    public var segmentBytes: Int
    /// When appended records are forced to stable storage.
    public var fsync: FsyncPolicy
    /// The most bytes the segments may take together; `nil` means unlimited.
    public var maxBytes: Int?
    /// What an append does when `maxBytes` is reached.
    public var capacityPolicy: CapacityPolicy
    /// The largest record (header, metadata and payload) an append accepts. Larger batches are refused with
    /// `SpoolError.Kind.recordTooLarge` so that a caller splits them.
    public var maxRecordBytes: Int
    /// Acknowledged records are kept for replay while the kept segments total at most this many bytes
    /// (0: no byte limit). Retention is off when this is 0 and ``retainAge`` is nil: segments are deleted
    /// once every cursor has passed them.
    public var retainBytes: Int64 = 0
    /// Acknowledged records are kept for replay while their segment was written to within this time.
    public var retainAge: Duration? = nil

    /// Whether acknowledged records are kept at all.
    public var retains: Bool { retainBytes > 0 || retainAge != nil }

    /// Makes a configuration; the defaults suit a relay's ack path (64 MiB segments, fsync `always`, no cap).
    public init(
        directory: String,
        segmentBytes: Int = 64 << 20,
        fsync: FsyncPolicy = .always,
        maxBytes: Int? = nil,
        capacityPolicy: CapacityPolicy = .block,
        maxRecordBytes: Int = RecordFrame.maximumRecordBytes,
        retainBytes: Int64 = 0,
        retainAge: Duration? = nil
    ) {
        self.retainBytes = retainBytes
        self.retainAge = retainAge
        self.directory = directory
        self.segmentBytes = segmentBytes
        self.fsync = fsync
        self.maxBytes = maxBytes
        self.capacityPolicy = capacityPolicy
        self.maxRecordBytes = maxRecordBytes
    }
}
