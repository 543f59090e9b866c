/// How to reach a NATS cluster and how to behave when a server goes away.
public struct NATSConnectionOptions: Sendable {
    /// Server URLs (`nats://host:4222`), tried in order at first; the client also learns the cluster's other
    /// servers from them and fails over among all of them.
    public var servers: [String]
    /// The connection's name, shown by the server (`nats server report connections`).
    public var name: String
    /// The first reconnect delay ceiling; each failed attempt doubles it up to ``reconnectCap``, and the
    /// actual delay is drawn uniformly below the ceiling (full jitter), so many clients do not return at once.
    public var reconnectBase: Duration
    /// The largest reconnect delay ceiling.
    public var reconnectCap: Duration
    /// How long one connection attempt may take.
    public var connectTimeout: Duration
    /// How long a JetStream API request (stream info, consumer creation) may wait for its answer.
    public var requestTimeout: Duration
    /// How often the client pings the server; two unanswered pings mark the connection stale (a frozen server).
    public var pingInterval: Duration

    /// Creates options; the defaults suit a LAN cluster.
    public init(
        servers: [String],
        name: String = "logferry",
        reconnectBase: Duration = .milliseconds(100),
        reconnectCap: Duration = .seconds(5),
        connectTimeout: Duration = .seconds(2),
        requestTimeout: Duration = .seconds(5),
        pingInterval: Duration = .seconds(5)
    ) {
        self.servers = servers
        self.name = name
        self.reconnectBase = reconnectBase
        self.reconnectCap = reconnectCap
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.pingInterval = pingInterval
    }

    /// Parses `URL[,URL...]`; a bare `host:port` gets the `nats://` scheme. Nil when the list is empty.
    public static func parseServers(_ text: String) -> [String]? {
        let items = text.split(separator: ",").map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
        guard !items.isEmpty else { return nil }
        return items.map { $0.contains("://") ? $0 : "nats://\($0)" }
    }
}

extension Duration {
    /// Whole milliseconds, at least 1 (the C client takes milliseconds; 0 often means "default").
    var natsMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return max(1, seconds &* 1000 &+ attoseconds / 1_000_000_000_000_000)
    }

    /// Whole nanoseconds (JetStream configurations take nanoseconds).
    var natsNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds &* 1_000_000_000 &+ attoseconds / 1_000_000_000
    }
}

extension Substring {
    func trimmingWhitespace() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
