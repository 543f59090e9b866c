import LogFerrySpool

extension OriginLedger {
    /// The bytes of a snapshot: u32 origin count, then per origin its 16-byte id, u64 last seen, u32 range
    /// count and the (u64, u64) ranges, u32 partial-unit count and per unit its u64 sequence, u32 total,
    /// u32 range count and the (u32, u32) event ranges. Big-endian.
    func snapshot() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(4 + origins.count * 48)
        out.appendBigEndian(UInt32(origins.count))
        for (id, entry) in origins.sorted(by: { $0.key.bytes.lexicographicallyPrecedes($1.key.bytes) }) {
            out.append(contentsOf: id.bytes)
            out.appendBigEndian(entry.lastSeen)
            out.appendBigEndian(UInt32(entry.units.count))
            for range in entry.units {
                out.appendBigEndian(range.lowerBound)
                out.appendBigEndian(range.upperBound)
            }
            out.appendBigEndian(UInt32(entry.partial.count))
            for (unit, partial) in entry.partial.sorted(by: { $0.key < $1.key }) {
                out.appendBigEndian(unit)
                out.appendBigEndian(partial.total)
                out.appendBigEndian(UInt32(partial.held.count))
                for range in partial.held {
                    out.appendBigEndian(range.lowerBound)
                    out.appendBigEndian(range.upperBound)
                }
            }
        }
        return out
    }

    /// Restores a snapshot made by ``snapshot()``, read from `reader`.
    init(reading reader: inout ByteArrayReader) throws(RecordMetadataError) {
        self.init()
        let count = try reader.readCount(minimumItemBytes: 32)
        for _ in 0..<count {
            guard let id = SpoolID(bytes: try reader.read(count: 16)) else { continue }
            var entry = Entry()
            entry.lastSeen = try reader.read(UInt64.self)
            let ranges = try reader.readCount(minimumItemBytes: 16)
            for _ in 0..<ranges {
                let low = try reader.read(UInt64.self)
                let high = try reader.read(UInt64.self)
                guard low <= high else { throw RecordMetadataError(reason: "origin ledger range \(low)...\(high)") }
                Self.insert(low...high, into: &entry.units)
            }
            let partials = try reader.readCount(minimumItemBytes: 16)
            for _ in 0..<partials {
                let unit = try reader.read(UInt64.self)
                var partial = PartialUnit(total: try reader.read(UInt32.self), held: [])
                let held = try reader.readCount(minimumItemBytes: 8)
                for _ in 0..<held {
                    let low = try reader.read(UInt32.self)
                    let high = try reader.read(UInt32.self)
                    guard low <= high else { throw RecordMetadataError(reason: "origin ledger event range \(low)..<\(high)") }
                    Self.insert(low..<high, into: &partial.held)
                }
                entry.partial[unit] = partial
            }
            setEntry(entry, for: id)
        }
    }
}
