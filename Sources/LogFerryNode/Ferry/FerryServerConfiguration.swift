import LogFerryWire

/// How a ferry listener listens and what it accepts.
public struct FerryServerConfiguration: Sendable {
    /// Address to bind; port 0 picks a free port (the bound one is reported once listening).
    public var host: String
    /// Port to bind.
    public var port: Int
    /// Limits announced in the server hello and enforced before anything is allocated.
    public var limits: WireLimits
    /// The shared key clients must prove they hold; nil accepts any client.
    public var key: [UInt8]?
    /// TLS, when set.
    public var tls: TLSServerOptions?
    /// A connection that delivers no complete frame for this long is closed (covers slow and silent peers,
    /// the handshake included). Clients heartbeat well within it.
    public var idleTimeout: Duration
    /// This node's name in the server hello log lines.
    public var nodeName: String
    /// How often the listener heartbeats each session, so a client whose own heartbeats wait behind a big
    /// frame on a slow link still hears from it within its liveness timeout.
    public var heartbeatInterval: Duration = .seconds(5)

    /// Creates a configuration.
    public init(
        host: String = "127.0.0.1",
        port: Int = 7514,
        limits: WireLimits = .default,
        key: [UInt8]? = nil,
        tls: TLSServerOptions? = nil,
        idleTimeout: Duration = .seconds(15),
        nodeName: String = "logferry"
    ) {
        self.host = host
        self.port = port
        self.limits = limits
        self.key = key
        self.tls = tls
        self.idleTimeout = idleTimeout
        self.nodeName = nodeName
    }
}
