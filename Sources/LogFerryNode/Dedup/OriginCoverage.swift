import LogFerrySpool
import LogFerryWire

/// The events of one origin that a frame or a stored record carries, in the form the ``OriginLedger`` reasons
/// about: for each origin unit (a batch sealed at the origin) the range of its events carried.
struct OriginCoverage: Sendable, Hashable {
    /// The origin spool.
    var origin: SpoolID
    /// The first unit covered.
    var first: UInt64
    /// The last unit covered.
    var last: UInt64
    /// For a fragment, the index of its first event in the unit.
    var fragmentStart: UInt32
    /// Events per unit (for a fragment: the unit's total).
    var unitEvents: [UInt32]
    /// Events carried.
    var eventCount: UInt32

    /// The events of one unit that a coverage carries.
    struct Piece: Sendable, Hashable {
        /// The origin sequence of the unit.
        var unit: UInt64
        /// The indices, within the unit, of the events carried.
        var events: Range<UInt32>
        /// How many events the unit has in all.
        var total: UInt32

        /// Whether the piece is the whole unit.
        var isWhole: Bool { events.lowerBound == 0 && events.upperBound == total }
    }

    /// Wraps a frame's origin; nil when its spool id is not 16 bytes (the frame decoder already refuses those).
    init?(_ origin: BatchOrigin, eventCount: UInt32) {
        guard let id = SpoolID(bytes: origin.spoolID) else { return nil }
        self.init(origin: id, first: origin.first, last: origin.last, fragmentStart: origin.fragmentStart,
                  unitEvents: origin.unitEvents, eventCount: eventCount)
    }

    init(origin: SpoolID, first: UInt64, last: UInt64, fragmentStart: UInt32, unitEvents: [UInt32], eventCount: UInt32) {
        self.origin = origin
        self.first = first
        self.last = last
        self.fragmentStart = fragmentStart
        self.unitEvents = unitEvents
        self.eventCount = eventCount
    }

    /// The coverage of a whole batch sealed as `sequence` by the node whose spool is `origin`.
    init(origin: SpoolID, sequence: UInt64, events: UInt32) {
        self.init(origin: origin, first: sequence, last: sequence, fragmentStart: 0, unitEvents: [events], eventCount: events)
    }

    /// The wire form.
    var batchOrigin: BatchOrigin {
        BatchOrigin(spoolID: origin.bytes, first: first, last: last, fragmentStart: fragmentStart, unitEvents: unitEvents)
    }

    /// The pieces, one per unit, in order.
    var pieces: [Piece] {
        if unitEvents.count == 1 {
            let end = fragmentStart &+ eventCount
            return [Piece(unit: first, events: fragmentStart..<max(end, fragmentStart), total: unitEvents[0])]
        }
        return unitEvents.enumerated().map { offset, count in
            Piece(unit: first &+ UInt64(offset), events: 0..<count, total: count)
        }
    }

    /// The fewest coverages that carry exactly `pieces` (given in unit order): runs of consecutive whole units
    /// merge; a partial piece is a fragment of its own.
    static func grouping(_ pieces: [Piece], origin: SpoolID) -> [OriginCoverage] {
        var out: [OriginCoverage] = []
        for piece in pieces {
            let count = UInt32(piece.events.count)
            if piece.isWhole, var run = out.last, run.fragmentStart == 0, run.last &+ 1 == piece.unit,
                run.unitEvents.count > 1 || run.eventCount == run.unitEvents[0]
            {
                run.last = piece.unit
                run.unitEvents.append(piece.total)
                run.eventCount += count
                out[out.count - 1] = run
            } else {
                out.append(OriginCoverage(
                    origin: origin, first: piece.unit, last: piece.unit, fragmentStart: piece.events.lowerBound,
                    unitEvents: [piece.total], eventCount: count))
            }
        }
        return out
    }

    /// For each event of a batch with this coverage, in order, the piece it belongs to and its index in the unit.
    func eventPositions() -> [(unit: UInt64, index: UInt32)] {
        var out: [(unit: UInt64, index: UInt32)] = []
        out.reserveCapacity(Int(eventCount))
        for piece in pieces {
            for index in piece.events { out.append((piece.unit, index)) }
        }
        return out
    }
}

extension OriginCoverage {
    /// The coverage of a record of the spool `spoolID`: the origin its metadata names, or, when this node
    /// sealed it (no origin entry), the record itself as a whole batch of the spool id it was sealed under
    /// (which differs from today's after the spool was copied and took a new id).
    static func of(sequence: UInt64, metadata: RecordMetadata, eventCount: UInt32, spoolID: SpoolID) -> OriginCoverage {
        metadata.origin ?? OriginCoverage(origin: metadata.sealedBy ?? spoolID, sequence: sequence, events: eventCount)
    }
}
