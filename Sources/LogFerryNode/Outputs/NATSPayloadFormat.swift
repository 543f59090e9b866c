/// What the JetStream sink publishes.
public enum NATSPayloadFormat: String, Sendable, CaseIterable {
    /// One message per spool record: the batch compressed at the edge as it is (zlib), with its origin, origin
    /// sequence range, fragment and host in headers. What a LogFerry `--nats-in` source reads.
    case batch
    /// One JSON message per event (`ts`, `host`, `source`, `line`, `fields`), for consumers other than LogFerry.
    case events
}
