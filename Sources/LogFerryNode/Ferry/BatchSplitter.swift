import LogFerryWire

/// Cuts a spool record into frames that fit a receiver's announced limits, each naming exactly which origin
/// events it carries.
///
/// A record normally crosses every hop whole. When it does not fit (a hop with smaller limits, or a
/// too-large refusal), it is cut by halving: a record of several origin units is cut between units, a single
/// unit (or a fragment of one) between events, until every part fits. Each part keeps the record's sequence
/// and is numbered 0..<partCount; its ``BatchOrigin`` names its units, or its fragment of a unit, so the
/// receiver deduplicates parts however another path cut the same batch. The cut depends only on the record,
/// the limits and the minimum number of parts, so a resend cuts the same parts.
struct BatchSplitter {
    let limits: WireLimits
    private var decoder: BatchDecoder
    private var encoder: BatchEncoder

    init(limits: WireLimits) {
        self.limits = limits
        // The batch was sealed by this node's own spool, so only the codec's hard ceilings apply.
        self.decoder = BatchDecoder(limits: Self.localLimits)
        self.encoder = BatchEncoder()
    }

    /// Limits for decoding batches this node stored itself.
    static let localLimits = WireLimits(
        maxFrameBytes: UInt32.max, maxUncompressedBytes: UInt32.max, maxEventsPerBatch: UInt32.max, maxWindow: UInt32.max
    )

    /// Whether `sealed` with `origin` fits the limits whole.
    func fits(_ sealed: SealedBatch, origin: BatchOrigin) -> Bool {
        limits.admits(sealed, origin: origin)
    }

    /// The frames that carry record `sequence`: one when it fits, else the parts (at least `minimumParts`
    /// when a receiver refused fewer as too large) that each fit.
    mutating func frames(
        for sealed: SealedBatch, coverage: OriginCoverage, sequence: UInt64, minimumParts: Int = 1
    ) throws -> [BatchFrame] {
        if minimumParts <= 1, fits(sealed, origin: coverage.batchOrigin) {
            return [BatchFrame(sequence: sequence, origin: coverage.batchOrigin, batch: sealed)]
        }
        let batch = try decoder.decode(sealed)
        let positions = coverage.eventPositions()
        var parts: [(OriginCoverage, SealedBatch)] = []
        // Pieces of a part: a run of whole units, or one unit's event range; events are taken in order.
        let groups = Self.halve(coverage.pieces, times: Self.halvings(for: minimumParts))
        for group in groups {
            try cut(group, events: batch.events, positions: positions, host: batch.host, origin: coverage, into: &parts, sequence: sequence)
        }
        guard parts.count <= Int(UInt16.max) else {
            throw BatchSplitError(sequence: sequence, events: batch.events.count, limits: limits)
        }
        let count = UInt16(parts.count)
        return parts.enumerated().map { index, part in
            BatchFrame(sequence: sequence, part: UInt16(index), partCount: count, origin: part.0.batchOrigin, batch: part.1)
        }
    }

    private static func halvings(for minimumParts: Int) -> Int {
        var times = 0
        while (1 << times) < minimumParts { times += 1 }
        return times
    }

    /// Cuts `pieces` into 2^times groups by halving (between units, else between events).
    private static func halve(_ pieces: [OriginCoverage.Piece], times: Int) -> [[OriginCoverage.Piece]] {
        guard times > 0 else { return [pieces] }
        guard let (left, right) = split(pieces) else { return [pieces] }
        return halve(left, times: times - 1) + halve(right, times: times - 1)
    }

    /// Two halves of `pieces`: between units when there are several, else between the events of the one.
    private static func split(_ pieces: [OriginCoverage.Piece]) -> ([OriginCoverage.Piece], [OriginCoverage.Piece])? {
        if pieces.count > 1 {
            let middle = pieces.count / 2
            return (Array(pieces[..<middle]), Array(pieces[middle...]))
        }
        guard let piece = pieces.first, piece.events.count > 1 else { return nil }
        let middle = piece.events.lowerBound + UInt32(piece.events.count / 2)
        var left = piece
        var right = piece
        left.events = piece.events.lowerBound..<middle
        right.events = middle..<piece.events.upperBound
        return ([left], [right])
    }

    private mutating func cut(
        _ pieces: [OriginCoverage.Piece], events: [Event], positions: [(unit: UInt64, index: UInt32)], host: String,
        origin: OriginCoverage, into parts: inout [(OriginCoverage, SealedBatch)], sequence: UInt64
    ) throws {
        let coverages = OriginCoverage.grouping(pieces, origin: origin.origin)
        if coverages.count == 1, let coverage = coverages.first {
            let selected = zip(events, positions).filter { _, position in
                pieces.contains { $0.unit == position.unit && $0.events.contains(position.index) }
            }.map(\.0)
            let sealed = try encoder.encode(Batch(host: host, events: selected))
            if fits(sealed, origin: coverage.batchOrigin) {
                parts.append((coverage, sealed))
                return
            }
        }
        guard let (left, right) = Self.split(pieces) else {
            throw BatchSplitError(sequence: sequence, events: events.count, limits: limits)
        }
        try cut(left, events: events, positions: positions, host: host, origin: origin, into: &parts, sequence: sequence)
        try cut(right, events: events, positions: positions, host: host, origin: origin, into: &parts, sequence: sequence)
    }
}

/// A batch that cannot be cut to fit: a single event is larger than the receiver accepts.
struct BatchSplitError: Error, CustomStringConvertible {
    var sequence: UInt64
    var events: Int
    var limits: WireLimits

    var description: String {
        "batch \(sequence) (\(events) events) cannot be cut to fit the receiver's limits (\(limits.maxUncompressedBytes) bytes uncompressed, \(limits.maxFrameBytes) bytes a frame): one event is larger; raise the receiver's limits"
    }
}
