import LogFerryDeflate
import LogFerryWire

/// When a batch is sealed: at a number of events, an uncompressed size, or a linger time after its first
/// event, whichever comes first.
public struct BatchPolicy: Sendable, Hashable {
    /// Seal at this many events.
    public var maxEvents: Int
    /// Seal at this many uncompressed bytes (lines plus per-event overhead).
    public var maxBytes: Int
    /// Seal this long after the first event of a batch, however small it is.
    public var linger: Duration
    /// Compression level for sealing (0...9, clamped into the compressor's levels).
    public var compressionLevel: Int
    /// The library that compresses sealed batches; the wire format is zlib whichever it is.
    public var compressor: DeflateBackend

    /// The defaults: 4096 events, 1 MiB, 200 ms, level 1 with ISA-L.
    public init(
        maxEvents: Int = 4096, maxBytes: Int = 1 << 20, linger: Duration = .milliseconds(200), compressionLevel: Int = 1,
        compressor: DeflateBackend = .isal
    ) {
        self.maxEvents = maxEvents
        self.maxBytes = maxBytes
        self.linger = linger
        self.compressionLevel = compressionLevel
        self.compressor = compressor
    }
}

extension BatchPolicy {
    /// Whether a batch of `events` events and `bytes` uncompressed bytes must be sealed now.
    func isFull(events: Int, bytes: Int) -> Bool { events >= maxEvents || bytes >= maxBytes }

    /// When a batch opened at `openedAt` falls due; nil when no batch is open.
    func deadline(openedAt: ContinuousClock.Instant?) -> ContinuousClock.Instant? { openedAt.map { $0 + linger } }

    /// Whether a batch opened at `openedAt` has lingered long enough to be sealed at `now`.
    func isDue(openedAt: ContinuousClock.Instant?, at now: ContinuousClock.Instant) -> Bool {
        deadline(openedAt: openedAt).map { now >= $0 } ?? false
    }
}

/// The events of the batch being filled.
struct BatchAssembler {
    let policy: BatchPolicy
    private(set) var events: [Event] = []
    private(set) var bytes = 0
    private(set) var openedAt: ContinuousClock.Instant?

    /// Per-event bytes counted on top of the line (timestamp, source index, lengths).
    static let eventOverhead = 16

    init(policy: BatchPolicy) {
        self.policy = policy
        events.reserveCapacity(policy.maxEvents)
    }

    var isEmpty: Bool { events.isEmpty }

    /// Whether the batch has reached its event count or size.
    var isFull: Bool { policy.isFull(events: events.count, bytes: bytes) }

    /// Whether the batch has lingered long enough to be sealed.
    func isDue(at now: ContinuousClock.Instant) -> Bool { policy.isDue(openedAt: openedAt, at: now) }

    /// When the open batch falls due, if one is open.
    var deadline: ContinuousClock.Instant? { policy.deadline(openedAt: openedAt) }

    /// Adds `event`, taking it over (no copy of its line).
    mutating func add(_ event: consuming Event) {
        if events.isEmpty { openedAt = .now }
        bytes += event.line.count + event.source.utf8.count / 8 + Self.eventOverhead
        events.append(event)
    }

    /// Takes the events out, leaving an empty batch.
    mutating func take(host: String) -> Batch {
        let batch = Batch(host: host, events: events)
        events.removeAll(keepingCapacity: true)
        bytes = 0
        openedAt = nil
        return batch
    }
}
