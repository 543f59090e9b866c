/// How a file source's tailer (`FileTailer`) finds and reads files.
public struct FileTailerConfiguration: Sendable {
    /// Paths and `glob(3)` patterns (`/var/log/app/*.log`). Re-evaluated every `rescanInterval`.
    public var patterns: [String]
    /// `fnmatch(3)` patterns of files not to tail although `patterns` match them (`--exclude`). A pattern with a
    /// `/` is matched against the whole path, one without against the file name (`*.gz`, `app.log.*.bak`).
    public var excludes: [String]
    /// Longest line handed out, its terminator not counted. A longer line is cut to this length, marked
    /// `TailedLine.truncated` and counted in `logferry_file_lines_truncated_total`; the rest of it up to its
    /// newline is skipped (`LineSplitter`, the same rule as for standard input).
    public var maxLineBytes: Int
    /// How long a last line without its newline waits for the newline after the file stopped growing; then it
    /// ships as it is. Bytes written after that start a new line (a newline arriving first is swallowed, because it
    /// ends the line that already shipped).
    public var partialLineTimeout: Duration
    /// How often the patterns are re-evaluated (new files, renames, deletions) and idle closed files are checked for
    /// growth.
    public var rescanInterval: Duration
    /// A file at its end that has not grown for this long has its descriptor closed (its offset is kept); it is
    /// reopened at the next rescan that sees it grown. A file that no longer matches any pattern (renamed away) is
    /// forgotten after this long at its end.
    public var idleCloseAfter: Duration
    /// Upper bound on descriptors held open at once. Files at their end are closed early to stay under it; files
    /// that want to be read wait for a free slot.
    public var maxOpenFiles: Int
    /// Files found by the *first* scan that have no checkpoint start at their current end instead of at 0. Files that
    /// appear later always start at 0 (they are new, e.g. the fresh file after a rotation).
    public var startAtEnd: Bool
    /// Bytes read from a file per `pread`.
    public var readChunkBytes: Int
    /// How many leading bytes make a file's fingerprint (see `FileIdentity`).
    public var fingerprintBytes: Int
    /// Joins lines into multi-line events (a stack trace as one event); nil hands out every line on its own.
    public var multiline: MultilineConfiguration? = nil

    /// Makes a configuration; every value but the patterns has a default suited to a typical agent.
    public init(
        patterns: [String],
        excludes: [String] = [],
        maxLineBytes: Int = 1 << 20,
        partialLineTimeout: Duration = .seconds(5),
        rescanInterval: Duration = .seconds(1),
        idleCloseAfter: Duration = .seconds(30),
        maxOpenFiles: Int = 1024,
        startAtEnd: Bool = false,
        readChunkBytes: Int = 64 * 1024,
        fingerprintBytes: Int = 1024
    ) {
        self.patterns = patterns
        self.excludes = excludes
        self.maxLineBytes = max(1, maxLineBytes)
        self.partialLineTimeout = partialLineTimeout
        self.rescanInterval = rescanInterval
        self.idleCloseAfter = idleCloseAfter
        self.maxOpenFiles = max(1, maxOpenFiles)
        self.startAtEnd = startAtEnd
        self.readChunkBytes = max(512, readChunkBytes)
        self.fingerprintBytes = max(1, min(fingerprintBytes, 1 << 20))
    }
}
