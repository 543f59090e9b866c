/// One event of a batch being decoded, seen in place: the line points into the decoder's inflate buffer.
///
/// What a sink that only writes events out needs, without a copy of the line or a `String` per event.
/// Valid only inside the closure it is handed to (``BatchDecoder/scan(_:fields:tables:event:)``); copy
/// what must outlive it.
public struct EventView {
    /// The event's position in its batch, from 0.
    public let index: Int
    /// When the line was read, in nanoseconds since the Unix epoch.
    public let timestamp: UInt64
    /// The event's source, as an index into ``BatchTables/sources``.
    public let sourceIndex: Int
    /// The line's bytes, without its newline. Points into the decoder's buffer.
    public let line: UnsafeRawBufferPointer
    /// The event's fields; empty when the scan was asked not to build them.
    public let fields: [String: String]
}

/// The tables at the head of a batch body: its host and its source names, in order of first use.
public struct BatchTables: Sendable {
    /// The name of the host the events were read on.
    public let host: String
    /// The batch's source names; ``EventView/sourceIndex`` indexes them.
    public let sources: [String]
}
