import Metrics

/// The JetStream sink's metrics.
struct NATSSinkMetrics: Sendable {
    /// Messages handed to JetStream (resends included).
    let published = Counter(label: "logferry_nats_sink_published_messages_total")
    /// Messages JetStream acknowledged as stored now.
    let acked = Counter(label: "logferry_nats_sink_acked_messages_total")
    /// Messages JetStream acknowledged as duplicates (a resend it already had).
    let duplicates = Counter(label: "logferry_nats_sink_duplicate_messages_total")
    /// Spool records published and acknowledged.
    let records = Counter(label: "logferry_nats_sink_records_total")
    /// Events in them.
    let events = Counter(label: "logferry_nats_sink_events_total")
    /// Publish attempts that failed (timeouts, a full stream, no quorum), each retried.
    let failures = Counter(label: "logferry_nats_sink_failures_total")
    /// Spool records that do not decode, skipped.
    let skipped = Counter(label: "logferry_nats_sink_skipped_records_total")
    /// Events (`events` format) larger than the server's max payload as JSON, not published.
    let oversizedEvents = Counter(label: "logferry_nats_sink_oversized_events_total")
    /// Spool records not yet acknowledged by JetStream.
    let lag = Gauge(label: "logferry_nats_sink_lag_records")
}
