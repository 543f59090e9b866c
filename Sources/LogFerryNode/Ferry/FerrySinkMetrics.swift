import LogFerryWire
import Metrics

/// The sink's metrics.
struct FerrySinkMetrics: Sendable {
    let batchesOut = Counter(label: "logferry_ferry_sink_batches_total")
    let bytesOut = Counter(label: "logferry_ferry_sink_bytes_total")
    let eventsOut = Counter(label: "logferry_ferry_sink_events_total")
    let reconnects = Counter(label: "logferry_ferry_sink_reconnects_total")
    /// Records cut into more frames because the link is slow (``LinkRateEstimator``).
    let framesCutForLink = Counter(label: "logferry_ferry_sink_cut_for_link_total")
    /// The upstream link's measured delivery rate, bytes per second.
    let linkRate = Gauge(label: "logferry_ferry_sink_link_bytes_per_second")
    let connected = Counter(label: "logferry_ferry_sink_connections_total")
    let stalls = Counter(label: "logferry_ferry_sink_stalled_peers_total")
    let quarantined = Counter(label: "logferry_ferry_sink_quarantined_batches_total")
    let replayedBatches = Counter(label: "logferry_ferry_sink_replayed_batches_total")

    /// 1 while the sink has an established connection to `upstream` (after the handshake), else 0: what
    /// `logferry status` shows as the upstream's connection state.
    func upstreamConnected(_ upstream: Upstream) -> Gauge {
        Gauge(label: "logferry_ferry_sink_upstream_connected", dimensions: [("upstream", upstream.description)])
    }
    /// When the last ack moved the sink forward, seconds since the epoch (0: none yet).
    let lastAckTimestamp = Gauge(label: "logferry_ferry_sink_last_ack_timestamp_seconds")
    /// How long the oldest batch not yet acknowledged upstream has been in the spool, seconds (0: none waits).
    let oldestUnackedAge = Gauge(label: "logferry_ferry_sink_oldest_unacked_age_seconds")

    func refusals(_ code: RefusalCode) -> Counter {
        Counter(label: "logferry_ferry_sink_refusals_total", dimensions: [("code", "\(code)")])
    }
}
