import LogFerryWire
import Metrics

/// The sink's metrics.
struct FerrySinkMetrics: Sendable {
    let batchesOut = Counter(label: "logferry_ferry_sink_batches_total")
    let bytesOut = Counter(label: "logferry_ferry_sink_bytes_total")
    let eventsOut = Counter(label: "logferry_ferry_sink_events_total")
    let reconnects = Counter(label: "logferry_ferry_sink_reconnects_total")
    let connected = Counter(label: "logferry_ferry_sink_connections_total")
    let stalls = Counter(label: "logferry_ferry_sink_stalled_peers_total")
    let quarantined = Counter(label: "logferry_ferry_sink_quarantined_batches_total")
    let replayedBatches = Counter(label: "logferry_ferry_sink_replayed_batches_total")

    func refusals(_ code: RefusalCode) -> Counter {
        Counter(label: "logferry_ferry_sink_refusals_total", dimensions: [("code", "\(code)")])
    }
}
