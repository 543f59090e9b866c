import Metrics

/// The tailer's swift-metrics instruments. Labels are low-cardinality on purpose: no per-file dimensions.
struct FileTailerMetrics {
    let linesRead = Counter(label: "logferry_file_lines_read_total")
    let bytesRead = Counter(label: "logferry_file_bytes_read_total")
    let linesTruncated = Counter(label: "logferry_file_lines_truncated_total")
    let partialLines = Counter(label: "logferry_file_partial_lines_total")
    let truncationsDetected = Counter(label: "logferry_file_truncations_total")
    let filesDiscovered = Counter(label: "logferry_files_discovered_total")
    let filesForgotten = Counter(label: "logferry_files_forgotten_total")
    let openErrors = Counter(label: "logferry_file_open_errors_total")
    let readErrors = Counter(label: "logferry_file_read_errors_total")
    let compressedSkipped = Counter(label: "logferry_file_compressed_skipped_total")
    let copiesContinued = Counter(label: "logferry_file_copies_continued_total")
    let multilineEvents = Counter(label: "logferry_file_multiline_events_total")
    let multilineCut = Counter(label: "logferry_file_multiline_cut_total")
    let multilineFlushed = Counter(label: "logferry_file_multiline_flushed_total")
    let filesOpen = Gauge(label: "logferry_files_open")
    let filesTracked = Gauge(label: "logferry_files_tracked")
}

/// Running totals of one ``FileTailer``, for tests, progress lines and the demo.
struct FileTailerStatistics: Sendable, Hashable {
    /// Lines handed out.
    var linesRead: UInt64 = 0
    /// Bytes of lines handed out (without newlines).
    var bytesRead: UInt64 = 0
    /// Lines cut at ``FileTailerConfiguration/maxLineBytes``.
    var linesTruncated: UInt64 = 0
    /// Last lines shipped without their newline after ``FileTailerConfiguration/partialLineTimeout``.
    var partialLines: UInt64 = 0
    /// Times a file was found shorter than its offset (truncation, copytruncate) or with new first bytes.
    var truncationsDetected: UInt64 = 0
    /// Files that started being tailed.
    var filesDiscovered: UInt64 = 0
    /// Files dropped after being read to their end (deleted or renamed away).
    var filesForgotten: UInt64 = 0
    /// Failed `open`s (e.g. permissions), including retries.
    var openErrors: UInt64 = 0
    /// Compressed files (rotations such as `app.log.1.gz`) skipped, each counted once.
    var compressedSkipped: UInt64 = 0
    /// New files recognised as copies of a file already read (copytruncate) and continued from its offset.
    var copiesContinued: UInt64 = 0
    /// Multi-line events handed out (with `--multiline-start` / `--multiline-continue`).
    var multilineEvents: UInt64 = 0
    /// Multi-line events cut at ``MultilineConfiguration/maxBytes``.
    var multilineCut: UInt64 = 0
    /// Multi-line events handed out by their flush timeout (or because their file was deleted), not by a next line.
    var multilineFlushed: UInt64 = 0
    /// Descriptors held open now.
    var filesOpen: Int = 0
    /// Files tracked now (open or not).
    var filesTracked: Int = 0
}
