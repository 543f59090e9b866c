import LogFerrySpool

/// For every origin, which of its batches (units) this node holds durably, and which events of units it holds
/// only in part: the state that makes a node store every batch once however many paths bring it.
///
/// Units are kept as a sorted set of disjoint ranges, merged as they touch, so an origin that delivers in
/// order costs one range. Batches can arrive out of order through different relays, so a gap is kept as a
/// gap and never counted as held. A unit held only in part (fragments of a batch that was cut to fit a hop)
/// keeps the ranges of its events held until it is whole.
///
/// Bounded (Docs/OPERATIONS.md §Deduplication): an origin keeps at most ``maxRangesPerOrigin`` ranges (the
/// oldest are forgotten first), and ``expire(quietFor:now:)`` forgets origins not seen for the retention time.
/// Forgetting can only let a very old copy be stored again, never lose a line; both are counted.
struct OriginLedger: Sendable, Equatable {
    /// At most this many disjoint unit ranges per origin.
    static let maxRangesPerOrigin = 4096

    /// What one origin has delivered here.
    struct Entry: Sendable, Equatable {
        /// Whole units held: sorted, disjoint, never adjacent.
        var units: [ClosedRange<UInt64>] = []
        /// Units held in part: the event ranges held (sorted, disjoint) and the unit's total.
        var partial: [UInt64: PartialUnit] = [:]
        /// When a batch of this origin was last recorded, in seconds since the epoch.
        var lastSeen: UInt64 = 0
    }

    /// The events held of a unit held only in part.
    struct PartialUnit: Sendable, Equatable {
        var total: UInt32
        var held: [Range<UInt32>]
    }

    /// What of a coverage is not held yet.
    enum Missing: Equatable {
        /// Everything is held: acknowledge without storing.
        case nothing
        /// Nothing is held: store it as it is.
        case everything
        /// Some is held: store only these pieces.
        case some([OriginCoverage.Piece])
    }

    private(set) var origins: [SpoolID: Entry] = [:]

    static func == (lhs: OriginLedger, rhs: OriginLedger) -> Bool { lhs.origins == rhs.origins }
    /// Ranges forgotten because an origin had too many (counted for the metric).
    private(set) var forgottenRanges = 0

    init() {}

    /// What of `coverage` is not held.
    func missing(_ coverage: OriginCoverage) -> Missing {
        guard let entry = origins[coverage.origin] else { return .everything }
        var missing: [OriginCoverage.Piece] = []
        var anyHeld = false
        for piece in coverage.pieces {
            if Self.contains(entry.units, piece.unit) {
                anyHeld = true
                continue
            }
            guard let partial = entry.partial[piece.unit], partial.total == piece.total else {
                missing.append(piece)
                continue
            }
            let gaps = Self.subtract(piece.events, partial.held)
            if gaps.count != 1 || gaps.first != piece.events { anyHeld = true }
            for gap in gaps {
                missing.append(OriginCoverage.Piece(unit: piece.unit, events: gap, total: piece.total))
            }
        }
        if missing.isEmpty { return .nothing }
        return anyHeld ? .some(missing) : .everything
    }

    /// Notes that `coverage` is held (durably, or written and about to be).
    mutating func insert(_ coverage: OriginCoverage, now: UInt64) {
        var entry = origins[coverage.origin] ?? Entry()
        entry.lastSeen = max(entry.lastSeen, now)
        for piece in coverage.pieces {
            if Self.contains(entry.units, piece.unit) { continue }
            if piece.isWhole {
                entry.partial[piece.unit] = nil
                Self.insert(piece.unit...piece.unit, into: &entry.units)
                continue
            }
            var partial = entry.partial[piece.unit] ?? PartialUnit(total: piece.total, held: [])
            if partial.total != piece.total {
                // A different total for the same unit is not the same batch; keep the newer view.
                partial = PartialUnit(total: piece.total, held: [])
            }
            Self.insert(piece.events, into: &partial.held)
            if partial.held.count == 1, partial.held[0] == 0..<partial.total {
                entry.partial[piece.unit] = nil
                Self.insert(piece.unit...piece.unit, into: &entry.units)
            } else {
                entry.partial[piece.unit] = partial
            }
        }
        if entry.units.count > Self.maxRangesPerOrigin {
            let excess = entry.units.count - Self.maxRangesPerOrigin
            entry.units.removeFirst(excess)
            forgottenRanges += excess
            NodeMetrics.forgottenRanges.increment(by: Int64(excess))
        }
        origins[coverage.origin] = entry
    }

    /// Restores one origin's entry (snapshot loading).
    mutating func setEntry(_ entry: Entry, for id: SpoolID) {
        origins[id] = entry
    }

    /// Origins quiet for this long are forgotten (30 days).
    static let quietOriginRetention: UInt64 = 30 * 24 * 3600
    private var lastExpiry: UInt64 = 0

    /// Forgets origins quiet for ``quietOriginRetention``, at most once an hour; counts them.
    mutating func expireIfDue(now: UInt64) {
        guard now >= lastExpiry + 3600 else { return }
        lastExpiry = now
        let expired = expire(quietFor: Self.quietOriginRetention, now: now)
        if expired > 0 { NodeMetrics.expiredOrigins.increment(by: Int64(expired)) }
    }

    /// Forgets origins not seen for `quietFor` seconds; returns how many were forgotten.
    mutating func expire(quietFor seconds: UInt64, now: UInt64) -> Int {
        guard seconds > 0, now > seconds else { return 0 }
        let before = origins.count
        origins = origins.filter { $0.value.lastSeen >= now - seconds }
        return before - origins.count
    }

    /// The number of unit ranges held over all origins (for the memory figure and a gauge).
    var rangeCount: Int { origins.values.reduce(0) { $0 + $1.units.count + $1.partial.count } }

    // MARK: - Interval arithmetic

    static func contains(_ ranges: [ClosedRange<UInt64>], _ value: UInt64) -> Bool {
        var low = 0
        var high = ranges.count
        while low < high {
            let middle = (low + high) / 2
            if ranges[middle].upperBound < value { low = middle + 1 } else { high = middle }
        }
        return low < ranges.count && ranges[low].contains(value)
    }

    /// Inserts `range` into sorted, disjoint, non-adjacent `ranges`, merging what it touches.
    static func insert(_ range: ClosedRange<UInt64>, into ranges: inout [ClosedRange<UInt64>]) {
        if let last = ranges.last, last.upperBound < range.lowerBound {
            if last.upperBound &+ 1 == range.lowerBound {
                ranges[ranges.count - 1] = last.lowerBound...range.upperBound
            } else {
                ranges.append(range)
            }
            return
        }
        var lower = range.lowerBound
        var upper = range.upperBound
        var result: [ClosedRange<UInt64>] = []
        result.reserveCapacity(ranges.count + 1)
        var placed = false
        for existing in ranges {
            if existing.upperBound &+ 1 < lower, existing.upperBound < lower {
                result.append(existing)
            } else if upper < UInt64.max, existing.lowerBound > upper &+ 1 {
                if !placed { result.append(lower...upper); placed = true }
                result.append(existing)
            } else {
                lower = min(lower, existing.lowerBound)
                upper = max(upper, existing.upperBound)
            }
        }
        if !placed { result.append(lower...upper) }
        ranges = result
    }

    /// Inserts `range` into sorted, disjoint `ranges`, merging what it overlaps or touches.
    static func insert(_ range: Range<UInt32>, into ranges: inout [Range<UInt32>]) {
        guard !range.isEmpty else { return }
        var lower = range.lowerBound
        var upper = range.upperBound
        var result: [Range<UInt32>] = []
        var placed = false
        for existing in ranges {
            if existing.upperBound < lower {
                result.append(existing)
            } else if existing.lowerBound > upper {
                if !placed { result.append(lower..<upper); placed = true }
                result.append(existing)
            } else {
                lower = min(lower, existing.lowerBound)
                upper = max(upper, existing.upperBound)
            }
        }
        if !placed { result.append(lower..<upper) }
        ranges = result
    }

    /// The parts of `range` not in sorted, disjoint `held`.
    static func subtract(_ range: Range<UInt32>, _ held: [Range<UInt32>]) -> [Range<UInt32>] {
        var out: [Range<UInt32>] = []
        var start = range.lowerBound
        for existing in held where existing.upperBound > start && existing.lowerBound < range.upperBound {
            if existing.lowerBound > start { out.append(start..<existing.lowerBound) }
            start = max(start, existing.upperBound)
        }
        if start < range.upperBound { out.append(start..<range.upperBound) }
        return out
    }
}
