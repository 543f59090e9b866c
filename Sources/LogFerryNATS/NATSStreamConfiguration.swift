/// The JetStream stream LogFerry publishes to: created with these settings when it is missing.
public struct NATSStreamConfiguration: Sendable, Equatable {
    /// The stream's name (`LOGFERRY`).
    public var name: String
    /// The subjects it takes (`logs.*`).
    public var subjects: [String]
    /// How many servers hold each message (1, 3 or 5); a publish is acknowledged once a majority stored it.
    public var replicas: Int
    /// The size limit in bytes (-1: none). When reached, publishes are refused ("stream full") rather than old
    /// messages dropped, so nothing leaves the pipeline unread: the batches wait in the publisher's spool.
    public var maxBytes: Int64
    /// How long a message is kept (nil: until the size limit). Reading a message does not remove it from a stream
    /// with limits retention: with ``maxBytes`` set, this is what frees room again after the stream filled.
    public var maxAge: Duration?
    /// How long the stream remembers message ids to drop resends (`Nats-Msg-Id`).
    public var duplicateWindow: Duration

    /// Creates a configuration.
    public init(
        name: String, subjects: [String], replicas: Int = 1, maxBytes: Int64 = -1, maxAge: Duration? = nil,
        duplicateWindow: Duration = .seconds(120)
    ) {
        self.name = name
        self.subjects = subjects
        self.replicas = replicas
        self.maxBytes = maxBytes
        self.maxAge = maxAge
        self.duplicateWindow = duplicateWindow
    }
}

/// What ``NATSConnection/ensureStream(_:)`` found.
public enum NATSStreamCheck: Sendable, Equatable {
    /// The stream did not exist and was created as asked.
    case created
    /// The stream exists with the settings asked for.
    case matches
    /// The stream exists with other settings; it is used as it is. Each entry names one difference.
    case differs([String])
}
