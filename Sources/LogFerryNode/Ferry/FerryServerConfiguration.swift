import LogFerryWire

/// How a ferry listener listens and what it accepts.
public struct FerryServerConfiguration: Sendable {
    /// Address to bind; port 0 picks a free port (the bound one is reported once listening).
    public var host: String
    /// Port to bind.
    public var port: Int
    /// Limits announced in the server hello and enforced before anything is allocated.
    public var limits: WireLimits
    /// The shared key clients must prove they hold; nil accepts any client (see ``keys`` for per-host keys).
    public var key: [UInt8]? {
        get { if case .shared(let key) = keys { return key } else { return nil } }
        set { keys = newValue.map { .shared($0) } ?? .none }
    }
    /// The keys clients prove: none, one shared key, or one key per host (`--key-dir`), which binds each
    /// client to its host name.
    public var keys: HandshakeKeys = .none
    /// Host names (proved by per-host keys) allowed to forward batches of other origins: the relays. Any
    /// other authenticated client may send only its own batches, under its own host name.
    public var trustedRelays: Set<String> = []
    /// TLS, when set.
    public var tls: TLSServerOptions?
    /// The liveness timeout: a connection that delivers no byte for this long, or no client hello within it,
    /// is refused and closed. Clients heartbeat well within it.
    public var idleTimeout: Duration
    /// This node's name in the server hello log lines.
    public var nodeName: String
    /// How often the listener heartbeats each session, so a client whose own heartbeats wait behind a big
    /// frame on a slow link still hears from it within its liveness timeout.
    public var heartbeatInterval: Duration = .seconds(5)
    /// Sessions served at once; past it a new connection is refused with retry-later at once (counted).
    public var maxSessions: Int = 4096
    /// Bytes of batches taken off the sockets and not yet stored, over all sessions; past it a batch is
    /// refused with retry-later (counted).
    public var maxBufferBytes: Int = 256 << 20
    /// Where checked, inflated batch bodies go for this node's file sink, so it does not inflate them again;
    /// nil when the node writes no files.
    public var inflatedBatches: InflatedBatchCache? = nil

    /// Creates a configuration.
    public init(
        host: String = "127.0.0.1",
        port: Int = 7514,
        limits: WireLimits = .default,
        key: [UInt8]? = nil,
        tls: TLSServerOptions? = nil,
        idleTimeout: Duration = .seconds(15),
        nodeName: String = "logferry",
        maxSessions: Int = 4096,
        maxBufferBytes: Int = 256 << 20,
        keys: HandshakeKeys? = nil,
        trustedRelays: Set<String> = [],
        inflatedBatches: InflatedBatchCache? = nil
    ) {
        self.inflatedBatches = inflatedBatches
        self.maxSessions = maxSessions
        self.maxBufferBytes = maxBufferBytes
        self.trustedRelays = trustedRelays
        self.host = host
        self.port = port
        self.limits = limits
        self.keys = keys ?? key.map { .shared($0) } ?? .none
        self.tls = tls
        self.idleTimeout = idleTimeout
        self.nodeName = nodeName
    }
}
