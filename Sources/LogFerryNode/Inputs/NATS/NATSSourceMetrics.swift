import Metrics

/// The JetStream source's metrics.
struct NATSSourceMetrics: Sendable {
    /// Messages fetched (redeliveries included).
    let fetched = Counter(label: "logferry_nats_source_messages_total")
    /// Messages delivered more than once (an ack that did not arrive in time, a restart).
    let redelivered = Counter(label: "logferry_nats_source_redelivered_messages_total")
    /// Messages acknowledged after their batch was durable in the spool.
    let acked = Counter(label: "logferry_nats_source_acked_messages_total")
    /// Batches stored in the spool.
    let batchesIn = Counter(label: "logferry_nats_source_batches_total")
    /// Events stored in the spool.
    let eventsIn = Counter(label: "logferry_nats_source_events_total")
    /// Batches the spool already held (by origin), acknowledged without storing them again.
    let duplicates = Counter(label: "logferry_nats_source_duplicate_batches_total")
    /// Messages that are not LogFerry batches, or fail their checks; terminated, never delivered again.
    let rejected = Counter(label: "logferry_nats_source_rejected_messages_total")
    /// Failed attempts (no server, no quorum), each retried.
    let failures = Counter(label: "logferry_nats_source_failures_total")
    /// Messages waiting in the stream for this consumer.
    let lag = Gauge(label: "logferry_nats_source_lag_messages")
}
