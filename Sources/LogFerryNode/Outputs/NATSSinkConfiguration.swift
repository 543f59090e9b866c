import LogFerryNATS

/// How the JetStream sink publishes (`--nats-out` and its companions).
public struct NATSSinkConfiguration: Sendable {
    /// How to reach the cluster.
    public var connection: NATSConnectionOptions
    /// The stream, created when missing (`--nats-stream`, default `LOGFERRY`).
    public var stream: String
    /// The subject of each batch (`--nats-subject`, default `logs.{host}`).
    public var subject: NATSSubjectTemplate
    /// Replicas of a stream this sink creates (`--nats-replicas`).
    public var replicas: Int
    /// Size limit of a stream this sink creates, in bytes (-1: none); a full stream refuses publishes.
    public var maxBytes: Int64
    /// How long a stream this sink creates keeps a message (nil: until the size limit).
    public var maxAge: Duration?
    /// `batch` or `events` (`--nats-format`).
    public var format: NATSPayloadFormat
    /// How long a publish may wait for JetStream's acks before it is retried.
    public var publishTimeout: Duration
    /// At most this many spool records are published together before their acks are awaited.
    public var recordsPerPublish: Int
    /// Backoff (full jitter) between failed attempts.
    public var backoff: Backoff
    /// The spool cursor this sink advances.
    public var cursorName: String

    /// Creates a configuration.
    public init(
        connection: NATSConnectionOptions,
        stream: String = "LOGFERRY",
        subject: NATSSubjectTemplate = NATSSubjectTemplate("logs.{host}")!,
        replicas: Int = 1,
        maxBytes: Int64 = -1,
        maxAge: Duration? = nil,
        format: NATSPayloadFormat = .batch,
        publishTimeout: Duration = .seconds(10),
        recordsPerPublish: Int = 32,
        backoff: Backoff = Backoff(base: .milliseconds(200), cap: .seconds(10)),
        cursorName: String = "nats"
    ) {
        self.connection = connection
        self.stream = stream
        self.subject = subject
        self.replicas = replicas
        self.maxBytes = maxBytes
        self.maxAge = maxAge
        self.format = format
        self.publishTimeout = publishTimeout
        self.recordsPerPublish = recordsPerPublish
        self.backoff = backoff
        self.cursorName = cursorName
    }

    /// The stream this sink expects.
    var streamConfiguration: NATSStreamConfiguration {
        NATSStreamConfiguration(
            name: stream, subjects: [subject.streamSubject], replicas: replicas, maxBytes: maxBytes, maxAge: maxAge)
    }
}
