import Metrics

/// Counters shared by the node's components that have no natural owner instance.
///
/// Components that do have one create their metrics in their initialiser, with their own dimensions.
/// The command line bootstraps the metrics system before any node code runs.
enum NodeMetrics {
    /// Spool records whose metadata did not parse (their batch is delivered; the bookkeeping skipped).
    static let metadataErrors = Counter(label: "logferry_spool_metadata_errors_total")
    /// Origins forgotten by the deduplication state after being quiet for the retention time.
    static let expiredOrigins = Counter(label: "logferry_dedup_origins_expired_total")
    /// Old unit ranges forgotten because an origin had more disjoint ranges than the cap.
    static let forgottenRanges = Counter(label: "logferry_dedup_ranges_forgotten_total")
}
