import LogFerrySpool

/// For every upstream spool this node has taken batches from, the last position it has stored.
///
/// This is what makes a reconnect produce no duplicate: the welcome frame tells the client where to resume.
/// Rebuilt on start from the spool records' metadata (see `SpoolSnapshotter`), so a kill -9 between
/// append and ack cannot forget a stored batch.
struct UpstreamMarks: SpoolDerivedState, Equatable {
    /// The last stored position per upstream spool.
    private(set) var positions: [SpoolID: UpstreamPosition]

    /// No upstream seen yet.
    init() { positions = [:] }

    /// Restores a snapshot made by `snapshot()`.
    init(snapshot bytes: [UInt8]) throws {
        self.init()
        let entry = 16 + 8 + 2 + 2
        guard bytes.count >= 4 else { throw RecordMetadataError(reason: "upstream marks snapshot of \(bytes.count) bytes") }
        let count = Int(bytes.readBigEndian(UInt32.self, at: 0))
        guard bytes.count == 4 + count * entry else {
            throw RecordMetadataError(reason: "upstream marks snapshot of \(bytes.count) bytes for \(count) entries")
        }
        for i in 0..<count {
            let base = 4 + i * entry
            guard let id = SpoolID(bytes: Array(bytes[base..<(base + 16)])) else { continue }
            positions[id] = UpstreamPosition(
                spoolID: id,
                sequence: bytes.readBigEndian(UInt64.self, at: base + 16),
                part: bytes.readBigEndian(UInt16.self, at: base + 24),
                partCount: bytes.readBigEndian(UInt16.self, at: base + 26)
            )
        }
    }

    /// The bytes of a snapshot.
    func snapshot() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(4 + positions.count * 28)
        out.appendBigEndian(UInt32(positions.count))
        for position in positions.values {
            out.append(contentsOf: position.spoolID.bytes)
            out.appendBigEndian(position.sequence)
            out.appendBigEndian(position.part)
            out.appendBigEndian(position.partCount)
        }
        return out
    }

    /// Folds in a stored record's upstream position, if it has one.
    mutating func apply(_ metadata: RecordMetadata, sequence: UInt64) {
        if let upstream = metadata.upstream { record(upstream) }
    }

    /// Notes that `position` is durably stored. Positions only move forward.
    mutating func record(_ position: UpstreamPosition) {
        if let current = positions[position.spoolID], !current.isBefore(position) { return }
        positions[position.spoolID] = position
    }

    /// Where a client with spool `id` resumes: every batch up to `sequence` is stored whole, and the first
    /// `part` parts of the next batch are stored too (0 unless a split batch was cut off mid-way).
    func resumePoint(for id: SpoolID) -> (sequence: UInt64, part: UInt16) {
        guard let last = positions[id] else { return (0, 0) }
        if last.completesBatch { return (last.sequence, 0) }
        return (last.sequence - 1, last.part + 1)
    }

    /// Whether the batch part at (`sequence`, `part`) from spool `id` is already stored.
    func contains(_ id: SpoolID, sequence: UInt64, part: UInt16) -> Bool {
        guard let last = positions[id] else { return false }
        if sequence != last.sequence { return sequence < last.sequence }
        return part <= last.part || last.completesBatch
    }
}

extension UpstreamPosition {
    /// Whether `self` comes strictly before `other` in the upstream's order (sequence, then part).
    func isBefore(_ other: UpstreamPosition) -> Bool {
        if sequence != other.sequence { return sequence < other.sequence }
        if completesBatch { return false }
        return part < other.part
    }
}
