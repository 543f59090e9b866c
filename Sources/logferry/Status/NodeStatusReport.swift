import Foundation

/// What `logferry status` prints for one node, from two scrapes of its metrics (the rates are the difference
/// over the time between them).
///
/// One fact per line, `name: value` after an indent, so that a person reads it at a glance and a script can grep it:
///
/// ```
/// node http://127.0.0.1:9100/metrics: up
///   input file: 1200 lines (40.0/s)
///   spool /var/lib/logferry/spool: 81920 bytes, 1 segments, 0 retained bytes
///   backlog ferry: 3 batches
///   oldest unacked: 1.2 s
///   upstream 10.0.0.5:7000: connected
///   last ack: 0.3 s ago
///   drops: 0 spool batches, 0 ingest batches, 0 lost events, 0 swift-log events
///   quarantined: 0 spool records, 0 ferry sink batches, 0 file sink batches
/// ```
struct NodeStatusReport {
    let url: MetricsURL
    let previous: MetricsSnapshot?
    let current: MetricsSnapshot

    /// The inputs: a counter of what came in, and how its value is named.
    static let inputs: [(title: String, metric: String, unit: String, labelKey: String?)] = [
        ("file", "logferry_file_lines_read_total", "lines", nil),
        ("source", "logferry_source_events_total", "events", "source"),
        ("syslog", "logferry_syslog_messages_total", "messages", "transport"),
        ("ferry listener", "logferry_ferry_listener_events_total", "events", nil),
    ]

    /// The report's lines, the first naming the node.
    func lines(nowEpochSeconds: Double = Date().timeIntervalSince1970) -> [String] {
        var out = ["node \(url): up"]
        out += inputLines()
        out += spoolLines()
        out += upstreamLines(now: nowEpochSeconds)
        out += listenerLines()
        out.append("  drops: " + [
            "\(count("logferry_spool_dropped_batches_total")) spool batches",
            "\(count("logferry_ingest_dropped_batches_total")) ingest batches",
            "\(count("logferry_ingest_lost_events_total")) lost events",
            "\(count("logferry_logging_dropped_events_total")) swift-log events",
        ].joined(separator: ", "))
        out.append("  quarantined: " + [
            "\(count("logferry_spool_quarantined_records_total")) spool records",
            "\(count("logferry_ferry_sink_quarantined_batches_total")) ferry sink batches",
            "\(count("logferry_file_sink_quarantined_batches_total")) file sink batches",
        ].joined(separator: ", "))
        return out
    }

    /// The lines for a node whose metrics could not be read.
    static func unreachable(_ url: MetricsURL, reason: String) -> [String] {
        ["node \(url): unreachable (\(reason))"]
    }

    private func count(_ name: String) -> Int64 {
        Int64(current.total(name) ?? 0)
    }

    private func inputLines() -> [String] {
        var out: [String] = []
        for input in Self.inputs where current.has(input.metric) {
            if let key = input.labelKey {
                let values = Set(current.series(input.metric).compactMap { $0.labels[key] }).sorted()
                for value in values {
                    out.append("  input \(input.title) \(value): \(amount(input.metric, [key: value], unit: input.unit))")
                }
            } else {
                out.append("  input \(input.title): \(amount(input.metric, [:], unit: input.unit))")
            }
        }
        if out.isEmpty { out.append("  input: none") }
        return out
    }

    /// `N unit (R/s)`; the rate needs a previous scrape.
    private func amount(_ metric: String, _ labels: [String: String], unit: String) -> String {
        let now = current.total(metric, matching: labels) ?? 0
        var text = "\(Int64(now)) \(unit)"
        if let previous, let before = previous.total(metric, matching: labels) {
            let seconds = Double((current.takenAt - previous.takenAt).components.attoseconds) / 1e18
                + Double((current.takenAt - previous.takenAt).components.seconds)
            if seconds > 0 {
                text += String(format: " (%.1f/s)", max(0, now - before) / seconds)
            }
        }
        return text
    }

    private func spoolLines() -> [String] {
        var out: [String] = []
        let spools = Set(current.series("logferry_spool_bytes").compactMap { $0.labels["spool"] }).sorted()
        for spool in spools {
            let match = ["spool": spool]
            let bytes = Int64(current.total("logferry_spool_bytes", matching: match) ?? 0)
            let segments = Int64(current.total("logferry_spool_segments", matching: match) ?? 0)
            let retained = Int64(current.total("logferry_spool_retained_bytes", matching: match) ?? 0)
            out.append("  spool \(spool): \(bytes) bytes, \(segments) segments, \(retained) retained bytes")
        }
        for sample in current.series("logferry_spool_backlog").sorted(by: { ($0.labels["cursor"] ?? "") < ($1.labels["cursor"] ?? "") }) {
            out.append("  backlog \(sample.labels["cursor"] ?? "?"): \(Int64(sample.value)) batches")
        }
        if let age = current.total("logferry_ferry_sink_oldest_unacked_age_seconds") {
            out.append(String(format: "  oldest unacked: %.1f s", age))
        }
        return out
    }

    private func upstreamLines(now: Double) -> [String] {
        guard current.has("logferry_ferry_sink_reconnects_total") else { return [] }
        var out: [String] = []
        let upstreams = current.series("logferry_ferry_sink_upstream_connected").sorted { ($0.labels["upstream"] ?? "") < ($1.labels["upstream"] ?? "") }
        for sample in upstreams {
            out.append("  upstream \(sample.labels["upstream"] ?? "?"): \(sample.value >= 1 ? "connected" : "disconnected")")
        }
        if !upstreams.contains(where: { $0.value >= 1 }) {
            out.append("  upstream: none connected")
        }
        if let last = current.total("logferry_ferry_sink_last_ack_timestamp_seconds"), last > 0 {
            out.append(String(format: "  last ack: %.1f s ago", max(0, now - last)))
        } else {
            out.append("  last ack: never")
        }
        out.append("  shipped: \(count("logferry_ferry_sink_events_total")) events, \(count("logferry_ferry_sink_batches_total")) batches, "
            + "\(count("logferry_ferry_sink_reconnects_total")) reconnects, \(count("logferry_ferry_sink_refusals_total")) refusals")
        return out
    }

    private func listenerLines() -> [String] {
        guard current.has("logferry_ferry_listener_batches_total") else { return [] }
        return ["  listener: \(count("logferry_ferry_listener_open_connections")) connections open, "
            + "\(count("logferry_ferry_listener_batches_total")) batches in, \(count("logferry_ferry_listener_duplicate_batches_total")) duplicates"]
    }
}
