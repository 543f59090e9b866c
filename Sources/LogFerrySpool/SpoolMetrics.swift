import Metrics

/// The spool's swift-metrics instruments, all with a `spool` dimension (the directory).
struct SpoolMetrics: Sendable {
    let spool: String
    let appendedBatches: Counter
    let appendedBytes: Counter
    let droppedBatches: Counter
    let droppedBytes: Counter
    let retainedBytes: Gauge
    let retainedDroppedBatches: Counter
    let quarantinedRecords: Counter
    let tornBytes: Counter
    let gaps: Counter
    let appendErrors: Counter
    let bytes: Gauge
    let segments: Gauge
    let fsyncDuration: Timer
    let groupCommitBatches: Recorder

    init(spool: String) {
        let dimensions = [("spool", spool)]
        self.spool = spool
        appendedBatches = Counter(label: "logferry_spool_appended_batches_total", dimensions: dimensions)
        appendedBytes = Counter(label: "logferry_spool_appended_bytes_total", dimensions: dimensions)
        droppedBatches = Counter(label: "logferry_spool_dropped_batches_total", dimensions: dimensions)
        droppedBytes = Counter(label: "logferry_spool_dropped_bytes_total", dimensions: dimensions)
        retainedBytes = Gauge(label: "logferry_spool_retained_bytes", dimensions: dimensions)
        retainedDroppedBatches = Counter(label: "logferry_spool_retained_dropped_batches_total", dimensions: dimensions)
        quarantinedRecords = Counter(label: "logferry_spool_quarantined_records_total", dimensions: dimensions)
        tornBytes = Counter(label: "logferry_spool_torn_tail_bytes_total", dimensions: dimensions)
        gaps = Counter(label: "logferry_spool_gaps_total", dimensions: dimensions)
        appendErrors = Counter(label: "logferry_spool_append_errors_total", dimensions: dimensions)
        bytes = Gauge(label: "logferry_spool_bytes", dimensions: dimensions)
        segments = Gauge(label: "logferry_spool_segments", dimensions: dimensions)
        fsyncDuration = Timer(label: "logferry_spool_fsync_duration", dimensions: dimensions)
        groupCommitBatches = Recorder(label: "logferry_spool_group_commit_batches", dimensions: dimensions)
    }

    func backlog(cursor: String) -> Gauge {
        Gauge(label: "logferry_spool_backlog", dimensions: [("spool", spool), ("cursor", cursor)])
    }
}
