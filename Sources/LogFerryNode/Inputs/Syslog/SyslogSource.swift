import LogFerryWire
import Logging
import Metrics
import NIOCore
import ServiceLifecycle

/// The syslog listeners as a node source: each message becomes an event (the raw message as the line, the
/// parsed timestamp, host, app name and the rest as fields) in a `SpoolIngest`.
///
/// A full spool under `block` makes `add` wait, which stops reading from TCP peers (UDP datagrams beyond the
/// socket buffer are dropped by the kernel, as with any UDP syslog receiver).
///
/// Messages the ``LineFilter`` drops (matched against the raw message) are counted in
/// `logferry_source_lines_filtered_total{source="syslog"}`.
public struct SyslogSource: Service {
    let filter: LineFilter
    let tcp: SocketAddress?
    let udp: SocketAddress?
    let ingest: SpoolIngest
    let maxMessageBytes: Int
    let limits: SyslogTCPLimits
    let logger: Logger
    let onListening: @Sendable (_ transport: String, _ address: SocketAddress) -> Void

    /// Creates a syslog source; either address may be nil.
    public init(
        tcp: SocketAddress?,
        udp: SocketAddress?,
        ingest: SpoolIngest,
        maxMessageBytes: Int = 64 * 1024,
        limits: SyslogTCPLimits = SyslogTCPLimits(),
        logger: Logger,
        filter: LineFilter = .none,
        onListening: @escaping @Sendable (_ transport: String, _ address: SocketAddress) -> Void = { _, _ in }
    ) {
        self.filter = filter
        self.tcp = tcp
        self.udp = udp
        self.ingest = ingest
        self.maxMessageBytes = maxMessageBytes
        self.limits = limits
        self.logger = logger
        self.onListening = onListening
    }

    /// Listens until graceful shutdown or cancellation, then stores every message taken, waiting a bounded
    /// time for spool space (``SpoolIngest/finish()``).
    public func run() async throws {
        let server = try await SyslogServer(
            tcp: tcp, udp: udp, maxMessageBytes: maxMessageBytes, limits: limits, logger: logger
        )
        if let address = server.tcpAddress { onListening("tcp", address) }
        if let address = server.udpAddress { onListening("udp", address) }
        let ingest = self.ingest
        let filter = self.filter
        let filtered = Counter(label: "logferry_source_lines_filtered_total", dimensions: [("source", "syslog")])
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await ingest.runLingerTimer() }
                do {
                    try await cancelWhenGracefulShutdown {
                        try await server.run { message in
                            guard filter.admits(message.raw) else {
                                filtered.increment()
                                return
                            }
                            try await ingest.add(Event(
                                timestamp: WallClock.nanosecondsSinceEpoch(),
                                source: "syslog",
                                line: message.raw,
                                fields: message.fields
                            ))
                        }
                    }
                } catch is CancellationError {
                }
                group.cancelAll()
                try await group.waitForAll()
            }
        } catch {
            await ingest.finish()
            throw error
        }
        await ingest.finish()
    }
}
