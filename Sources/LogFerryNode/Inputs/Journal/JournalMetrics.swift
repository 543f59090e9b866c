import Metrics

/// The journal source's counters.
struct JournalMetrics: Sendable {
    /// Entries read (`logferry_source_events_total{source="journal"}`, as every source counts its events).
    let entries = Counter(label: "logferry_source_events_total", dimensions: [("source", "journal")])
    /// Starts whose stored cursor was no longer in the journal (rotated away, vacuumed, other matches or journal).
    let cursorMissing = Counter(label: "logferry_journal_cursor_missing_total")
    /// Journal files added or removed under the source (rotation, vacuum).
    let filesChanged = Counter(label: "logferry_journal_files_changed_total")
    /// Messages cut at `--max-line-bytes`.
    let linesCut = Counter(label: "logferry_journal_lines_cut_total")
    /// Failed reads (retried after a second).
    let readErrors = Counter(label: "logferry_journal_read_errors_total")
    /// Batches of journal entries a full spool under `drop-newest` dropped.
    let droppedBatches = Counter(label: "logferry_ingest_dropped_batches_total")
}
