import LogFerryBytes

/// Encodes lines into a batch body as they are read, so a line source copies each line's bytes once: from its
/// read buffer into the body that is then compressed.
///
/// The body it finishes is byte for byte what ``BatchBody`` writes for the same events (Docs/PROTOCOL.md §Batch
/// body). The body's header (host, source table, base timestamp, event count) comes before the events but is
/// known only at the end, so events are written after a gap and the header is put into the end of the gap when
/// the batch is finished: no copy of the events.
///
/// It takes lines without fields: a field-key table precedes the events and must be sorted, so sources whose
/// events carry fields (syslog, the journal) collect ``Event``s and let ``BatchEncoder/encode(_:)`` write them.
/// Not thread-safe: one builder belongs to one source task.
public struct BatchBodyBuilder {
    /// Room kept before the events for the header: the host and source names of any ordinary batch fit.
    static let headerRoom = 4096

    /// `headerRoom` bytes of gap, then the encoded events.
    private var storage: [UInt8]
    private var header: [UInt8] = []
    private var sources = BatchSourceTable()
    private var baseTimestamp: UInt64 = 0
    private var previousTimestamp: UInt64 = 0

    /// How many events the open body holds.
    public private(set) var eventCount = 0

    /// Creates an empty builder; `capacity` is the body size it expects to reach (it grows past it if needed).
    public init(capacity: Int = 0) {
        storage = [UInt8](repeating: 0, count: Self.headerRoom)
        storage.reserveCapacity(Self.headerRoom + capacity)
    }

    /// Whether no event has been added since the last finish.
    public var isEmpty: Bool { eventCount == 0 }

    /// The encoded size of the events added so far (the body without its header).
    public var byteCount: Int { storage.count - Self.headerRoom }

    /// Adds an event without fields: `line` read from `source` at `timestamp` (nanoseconds since the epoch).
    public mutating func append(line: UnsafeRawBufferPointer, source: String, timestamp: UInt64) {
        if eventCount == 0 {
            baseTimestamp = timestamp
            previousTimestamp = timestamp
        }
        BatchBody.appendEvent(
            timestamp: timestamp, previous: previousTimestamp, sourceIndex: sources.index(of: source), hasFields: false,
            line: line, into: &storage)
        previousTimestamp = timestamp
        eventCount += 1
    }

    /// Puts the header of the body read on `host` before its events, lends the whole body to `use`, and empties
    /// the builder for the next batch (keeping its memory).
    public mutating func finish<Result>(
        host: String, _ use: (UnsafeRawBufferPointer) throws(WireError) -> Result
    ) throws(WireError) -> Result {
        defer { reset() }
        header.removeAll(keepingCapacity: true)
        header.append(BatchBody.formatVersion)
        header.appendVarintString(host)
        header.appendVarint(UInt64(sources.names.count))
        for source in sources.names { header.appendVarintString(source) }
        header.appendVarint(0)  // no field keys
        header.appendVarint(eventCount == 0 ? 0 : baseTimestamp)
        header.appendVarint(UInt64(eventCount))
        if header.count <= Self.headerRoom {
            let start = Self.headerRoom - header.count
            storage.withUnsafeMutableBytes { $0[start..<Self.headerRoom].copyBytes(from: header) }
            let result: Swift.Result<Result, WireError> = storage.withUnsafeBytes { all in
                Swift.Result { () throws(WireError) -> Result in try use(UnsafeRawBufferPointer(rebasing: all[start...])) }
            }
            return try result.get()
        }
        // Names too long for the gap (thousands of sources in one batch): one copy.
        var body = header
        body.append(contentsOf: storage[Self.headerRoom...])
        let result: Swift.Result<Result, WireError> = body.withUnsafeBytes { all in
            Swift.Result { () throws(WireError) -> Result in try use(all) }
        }
        return try result.get()
    }

    private mutating func reset() {
        storage.removeSubrange(Self.headerRoom...)
        sources.removeAll()
        eventCount = 0
    }
}

/// A builder holds a source's open batch: it belongs to one task.
@available(*, unavailable)
extension BatchBodyBuilder: Sendable {}
