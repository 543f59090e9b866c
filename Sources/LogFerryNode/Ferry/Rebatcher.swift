import LogFerrySpool
import LogFerryWire

/// Merges consecutive small batches into bigger ones before a WAN hop (`--rebatch`).
///
/// Only consecutive records from the same origin host merge (a batch has one host), and the merged batch is
/// named by the **last** local sequence it covers: the receiver's cumulative ack of that sequence then covers
/// exactly the merged records, and a reconnect resumes after it, so exactly-once holds without new protocol.
/// Merged batches stay within half the receiver's limits, so they never need cutting into parts (a part's
/// resume point assumes the batch covers one sequence). Costs an inflate and a deflate per batch on the relay.
struct Rebatcher {
    private let limits: WireLimits
    private var decoder = BatchDecoder(limits: BatchSplitter.localLimits)
    private var encoder: BatchEncoder
    private var host: String?
    private var events: [Event] = []
    private var bytes = 0
    private(set) var lastSequence: UInt64 = 0
    private var single: SealedBatch?

    /// Target: half of each of the receiver's limits.
    private var maxEvents: Int { Int(limits.maxEventsPerBatch / 2) }
    private var maxBytes: Int { Int(min(limits.maxUncompressedBytes, limits.maxFrameBytes) / 2) }

    init(limits: WireLimits, compressionLevel: Int = 6) {
        self.limits = limits
        self.encoder = BatchEncoder(level: compressionLevel)
    }

    var isEmpty: Bool { lastSequence == 0 }

    /// Adds the first record of a merged batch.
    mutating func start(_ record: SpoolRecord, _ sealed: SealedBatch) {
        host = nil
        events.removeAll(keepingCapacity: true)
        bytes = 0
        single = sealed
        lastSequence = record.sequence
    }

    /// Adds `record` if it has the same host and fits; false leaves the merged batch as it was.
    mutating func absorb(_ record: SpoolRecord, _ sealed: SealedBatch) throws -> Bool {
        guard Int(sealed.uncompressedSize) + bytes + Int(single?.uncompressedSize ?? 0) <= maxBytes else { return false }
        if let first = single {
            // Decode the first batch only once a second one wants to join it.
            let batch = try decoder.decode(first)
            host = batch.host
            events = batch.events
            bytes = Int(first.uncompressedSize)
            single = nil
        }
        let batch = try decoder.decode(sealed)
        guard batch.host == host, events.count + batch.events.count <= maxEvents else { return false }
        events += batch.events
        bytes += Int(sealed.uncompressedSize)
        lastSequence = record.sequence
        return true
    }

    /// The batch to send, named by `lastSequence`.
    mutating func seal() throws -> SealedBatch {
        defer { lastSequence = 0; single = nil; events.removeAll(keepingCapacity: true) }
        if let single { return single }
        return try encoder.encode(Batch(host: host ?? "", events: events))
    }
}
