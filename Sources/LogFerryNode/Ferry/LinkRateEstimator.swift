/// What the link to an upstream moves, measured from acknowledgements, so the sink cuts frames that the
/// link carries in a fraction of the progress timeout: a satellite or 2G site then sends small frames and
/// sees steady acks instead of one 500 KB frame taking half a minute.
///
/// Each ack is one sample: the bytes of the records it acknowledges over the time since the later of the
/// previous ack and the earliest of those records' sends (ack clocking: while frames queue on the link, acks
/// arrive as fast as the link delivers). The estimate is the best of the last few samples, so an idle fast
/// link — whose acks come back at once — never looks slow, and a link that speeds up is trusted at once.
/// A pure value: no clock of its own, so its rules are tested directly.
struct LinkRateEstimator: Sendable {
    private var unacknowledged: [(sequence: UInt64, bytes: Int, sentAt: ContinuousClock.Instant)] = []
    private var lastAcknowledgement: ContinuousClock.Instant?
    private var samples: [Double] = []
    /// How many recent samples the estimate is the best of.
    static let sampleCount = 4
    /// Samples shorter than this say only "fast": their rate is not trusted beyond it.
    static let shortestInterval: Duration = .milliseconds(5)
    /// The smallest frame the sink cuts down to, whatever the link.
    static let smallestFrameBytes = 16 << 10

    /// The link's delivery rate in bytes per second; nil before the first ack.
    var bytesPerSecond: Double? { samples.max() }

    /// Bytes sent and not yet acknowledged.
    var bytesInFlight: Int { unacknowledged.reduce(0) { $0 + $1.bytes } }

    /// Whether another record may go out now, so that what is in flight crosses the link within `target`.
    /// Until the first ack measures the link, one record at a time (a slow start: a fast link answers within
    /// a round trip, a slow one is not handed a window full of big frames it needs minutes to carry).
    func allowsAnotherRecord(within target: Duration) -> Bool {
        guard !unacknowledged.isEmpty else { return true }
        guard let rate = bytesPerSecond else { return false }
        let seconds = Double(target.components.seconds) + Double(target.components.attoseconds) / 1e18
        return Double(bytesInFlight) < max(Double(Self.smallestFrameBytes), rate * seconds)
    }

    /// Notes that record `sequence`, `bytes` on the wire, was sent at `instant`.
    mutating func sent(_ sequence: UInt64, bytes: Int, at instant: ContinuousClock.Instant) {
        unacknowledged.append((sequence, bytes, instant))
    }

    /// Notes that every record through `sequence` was acknowledged at `instant`.
    mutating func acknowledged(through sequence: UInt64, at instant: ContinuousClock.Instant) {
        var bytes = 0
        var earliest: ContinuousClock.Instant?
        while let first = unacknowledged.first, first.sequence <= sequence {
            unacknowledged.removeFirst()
            bytes += first.bytes
            earliest = earliest.map { min($0, first.sentAt) } ?? first.sentAt
        }
        defer { lastAcknowledgement = instant }
        guard let earliest, bytes > 0 else { return }
        let start = lastAcknowledgement.map { max($0, earliest) } ?? earliest
        let interval = max(instant - start, Self.shortestInterval)
        let seconds = Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18
        samples.append(Double(bytes) / seconds)
        if samples.count > Self.sampleCount { samples.removeFirst(samples.count - Self.sampleCount) }
    }

    /// Forgets the records through `sequence` without measuring them (quarantined, or refused and to be sent
    /// again).
    mutating func forget(through sequence: UInt64) {
        unacknowledged.removeAll { $0.sequence <= sequence }
    }

    /// Forgets every record in flight (refused: the window was emptied; they will be sent again).
    mutating func forgetInFlight() {
        unacknowledged.removeAll()
    }

    /// Forgets records in flight (the connection ended; they will be sent again on the next).
    mutating func connectionEnded() {
        unacknowledged.removeAll()
        lastAcknowledgement = nil
    }

    /// Into how many parts a frame of `bytes` should be cut so that each crosses the link within `target`;
    /// 1 while the link is not known to be slow.
    func parts(for bytes: Int, within target: Duration) -> Int {
        guard let rate = bytesPerSecond, rate > 0 else { return 1 }
        let seconds = Double(target.components.seconds) + Double(target.components.attoseconds) / 1e18
        let cap = max(Double(Self.smallestFrameBytes), rate * seconds)
        guard Double(bytes) > cap else { return 1 }
        return Int((Double(bytes) / cap).rounded(.up))
    }
}
