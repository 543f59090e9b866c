import LogFerrySpool
import LogFerryWire

/// Merges consecutive small batches into bigger ones before a WAN hop (`--rebatch`).
///
/// Only records holding whole, consecutive batches of one origin merge (origin units `a...b` then
/// `b+1...c`, same host), so the merged batch names its origin range `a...c` and the events of each unit:
/// a receiver that got some of those units another way stores only the rest. On the hop, the merged batch
/// is named by the **last** local sequence it covers, so the cumulative ack of that sequence covers exactly
/// the merged records. Merged batches stay within half the receiver's limits. Costs an inflate and a
/// deflate per batch on the relay.
struct Rebatcher {
    private let limits: WireLimits
    private var decoder = BatchDecoder(limits: BatchSplitter.localLimits)
    private var encoder: BatchEncoder
    private var host: String?
    private var events: [Event] = []
    private var bytes = 0
    private(set) var lastSequence: UInt64 = 0
    private(set) var coverage: OriginCoverage?
    private var single: SealedBatch?

    /// Target: half of each of the receiver's limits.
    private var maxEvents: Int { Int(limits.maxEventsPerBatch / 2) }
    private var maxBytes: Int { Int(min(limits.maxUncompressedBytes, limits.maxFrameBytes) / 2) }

    init(limits: WireLimits, compressionLevel: Int = 6) {
        self.limits = limits
        self.encoder = BatchEncoder(level: compressionLevel)
    }

    /// Adds the first record of a merged batch.
    mutating func start(_ record: SpoolRecord, _ sealed: SealedBatch, coverage: OriginCoverage) {
        host = nil
        events.removeAll(keepingCapacity: true)
        bytes = 0
        single = sealed
        lastSequence = record.sequence
        self.coverage = coverage
    }

    /// Adds `record` if it continues the same origin with whole batches, has the same host and fits; false
    /// leaves the merged batch as it was.
    mutating func absorb(_ record: SpoolRecord, _ sealed: SealedBatch, coverage next: OriginCoverage) throws -> Bool {
        guard var merged = coverage, Self.isWhole(merged), Self.isWhole(next), next.origin == merged.origin,
            next.first == merged.last &+ 1
        else { return false }
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
        merged.last = next.last
        merged.unitEvents += next.unitEvents
        merged.eventCount += next.eventCount
        coverage = merged
        return true
    }

    private static func isWhole(_ coverage: OriginCoverage) -> Bool {
        coverage.pieces.allSatisfy(\.isWhole)
    }

    /// The batch to send, named by `lastSequence`, and its origin coverage.
    mutating func seal() throws -> SealedBatch {
        defer { single = nil; events.removeAll(keepingCapacity: true) }
        if let single { return single }
        return try encoder.encode(Batch(host: host ?? "", events: events))
    }
}
