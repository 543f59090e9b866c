/// The events one host read, in order, shipped and stored together as one unit.
///
/// A batch is sealed (encoded and compressed) once at the edge by ``BatchEncoder`` and then travels as a
/// ``SealedBatch``; relays forward the sealed bytes unchanged.
public struct Batch: Sendable, Hashable {
    /// The name of the host the events were read on.
    public var host: String
    /// The events, in the order they were read.
    public var events: [Event]

    /// Creates a batch of `events` read on `host`.
    public init(host: String, events: [Event]) {
        self.host = host
        self.events = events
    }
}
