import LogFerrySpool

/// The tailer's state for one file (keyed by device and inode).
///
/// Invariant: `readOffset` is `offset` plus the bytes of the current, not yet handed out line
/// (`lines.heldBytes`) and of the unfinished multi-line event (`events`), whose start `offset` never passes.
/// A closed file has neither, so its `readOffset == offset`.
struct TailedFile {
    /// The last path the file was seen under.
    var path: String
    var identity: FileIdentity
    /// Checkpoint: just after the last byte handed out.
    var offset: UInt64
    /// Next byte to read.
    var readOffset: UInt64
    /// Assembles the file's bytes into lines; holds the current incomplete line.
    var lines: LineSplitter
    /// Joins lines into multi-line events (`--multiline-start`, `--multiline-continue`); nil without multi-line.
    var events: MultilineAssembler? = nil
    var descriptor: CInt?
    /// Open (or reopen) the file at the next poll.
    var wantsOpen = true
    /// Identity and offset came from a checkpoint or from before a close: check the fingerprint when opening.
    var needsVerification: Bool
    /// At open, look at the byte before `offset` to set `lines.flushedBeforeNewline`.
    var checkPreviousByte: Bool
    /// Seen by the last scan of the patterns (false: renamed away, deleted, or found by inode only).
    var matched: Bool
    /// The file has no name left (`st_nlink == 0`).
    var deleted = false
    /// The last poll read to the end.
    var atEnd = false
    var lastSize: UInt64 = 0
    var lastGrowth: ContinuousClock.Instant
    /// The open error logged for this file, so that it is logged once, not at every retry.
    var reportedOpenError: POSIXError?
    /// The bytes the fingerprint covers, when this tailer has read them (empty for a checkpointed file until it is
    /// verified): a copy in progress is recognised by being a prefix of them.
    var head: [UInt8] = []
    /// False for a file found without a checkpoint whose first bytes have not been looked at yet: they decide
    /// whether it is a copy of a file already read (copytruncate), compressed, or new (``FileTailer`` `classify`).
    var classified = true
    /// A compressed file (gzip, bzip2, xz, zstd): tracked so that it is reported once, never read.
    var skipped = false

    var hasPartialLine: Bool { lines.hasUnfinishedLine }

    /// Whether an unfinished multi-line event is held (its lines are read, not handed out).
    var hasPendingEvent: Bool { events?.hasPendingEvent ?? false }

    var checkpoint: FileCheckpoint { FileCheckpoint(identity: identity, path: path, offset: offset) }
}
