import Metrics

/// The syslog listeners' swift-metrics instruments, with a `transport` dimension (`tcp` or `udp`).
struct SyslogMetrics: Sendable {
    let messages: Counter
    let bytes: Counter
    let truncated: Counter
    let unparsed: Counter

    init(transport: String) {
        let dimensions = [("transport", transport)]
        messages = Counter(label: "logferry_syslog_messages_total", dimensions: dimensions)
        bytes = Counter(label: "logferry_syslog_bytes_total", dimensions: dimensions)
        truncated = Counter(label: "logferry_syslog_messages_truncated_total", dimensions: dimensions)
        unparsed = Counter(label: "logferry_syslog_unparsed_total", dimensions: dimensions)
    }

    static let connectionErrors = Counter(label: "logferry_syslog_connection_errors_total")
    static let connections = Meter(label: "logferry_syslog_connections")
    /// TCP connections closed at accept because `syslog-max-connections` were open.
    static let connectionsRefused = Counter(label: "logferry_syslog_connections_refused_total")
    /// TCP connections closed after `syslog-idle-timeout` without a byte.
    static let idleClosed = Counter(label: "logferry_syslog_connections_idle_closed_total")

    /// Counts one received message.
    func record(_ message: SyslogMessage, truncated wasTruncated: Bool) {
        messages.increment()
        bytes.increment(by: Int64(message.raw.count))
        if wasTruncated { truncated.increment() }
        if message.format == .unknown { unparsed.increment() }
    }
}
