import LogFerrySpool
import LogFerryWire

/// Cuts out of a batch the events another path already delivered, for the rare batch that is only partly new
/// (two relays that merged or cut one origin's batches differently).
enum OriginTrimmer {
    /// A new batch holding only some of the events of another, and which origin events they are.
    struct Part {
        var coverage: OriginCoverage
        var sealed: SealedBatch
    }

    /// The batches that carry exactly the events of `pieces` out of `sealed` (whose origin is `coverage`).
    static func trim(
        _ sealed: SealedBatch, coverage: OriginCoverage, keeping pieces: [OriginCoverage.Piece], decoder: inout BatchDecoder
    ) throws -> [Part] {
        let batch = try decoder.decode(sealed)
        var encoder = BatchEncoder()
        return try OriginCoverage.grouping(pieces, origin: coverage.origin).map { part in
            let events = select(batch.events, of: coverage, within: part)
            return Part(coverage: part, sealed: try encoder.encode(Batch(host: batch.host, events: events)))
        }
    }

    /// The events of a batch with coverage `coverage` that fall within `part`, in order.
    static func select<Element>(_ events: [Element], of coverage: OriginCoverage, within part: OriginCoverage) -> [Element] {
        let wanted = part.pieces
        var out: [Element] = []
        for (event, position) in zip(events, coverage.eventPositions()) {
            if wanted.contains(where: { $0.unit == position.unit && $0.events.contains(position.index) }) {
                out.append(event)
            }
        }
        return out
    }
}
