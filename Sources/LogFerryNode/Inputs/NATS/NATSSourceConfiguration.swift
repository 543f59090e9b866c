import LogFerryNATS

/// How the JetStream source reads (`--nats-in` and its companions).
public struct NATSSourceConfiguration: Sendable {
    /// How to reach the cluster.
    public var connection: NATSConnectionOptions
    /// The stream read (`--nats-stream`, default `LOGFERRY`); created when missing, like the sink does.
    public var stream: String
    /// The subjects read (`--nats-subject`, its `{host}` a wildcard).
    public var subject: NATSSubjectTemplate
    /// Replicas of a stream this source creates (`--nats-replicas`).
    public var replicas: Int
    /// The durable consumer's name (`--nats-consumer`, default `logferry`): readers sharing it share the work.
    public var consumer: String
    /// Messages fetched at once.
    public var fetchSize: Int
    /// How long a fetch waits for a first message.
    public var fetchTimeout: Duration
    /// How long a fetched message may stay unacknowledged before JetStream delivers it again.
    public var ackWait: Duration
    /// Backoff (full jitter) between failed attempts.
    public var backoff: Backoff

    /// Creates a configuration.
    public init(
        connection: NATSConnectionOptions,
        stream: String = "LOGFERRY",
        subject: NATSSubjectTemplate = NATSSubjectTemplate("logs.{host}")!,
        replicas: Int = 1,
        consumer: String = "logferry",
        fetchSize: Int = 64,
        fetchTimeout: Duration = .seconds(1),
        ackWait: Duration = .seconds(10),
        backoff: Backoff = Backoff(base: .milliseconds(200), cap: .seconds(10))
    ) {
        self.connection = connection
        self.stream = stream
        self.subject = subject
        self.replicas = replicas
        self.consumer = consumer
        self.fetchSize = fetchSize
        self.fetchTimeout = fetchTimeout
        self.ackWait = ackWait
        self.backoff = backoff
    }
}
