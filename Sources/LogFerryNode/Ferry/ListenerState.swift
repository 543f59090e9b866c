import Foundation
import LogFerrySpool

/// What a ferry listener derives from its spool records: the resume point of every sender (``UpstreamMarks``)
/// and, per origin, what it holds (``OriginLedger``). Rebuilt on start from a snapshot plus the records after
/// it, so a kill -9 between storing and acknowledging forgets nothing.
struct ListenerState: SpoolDerivedState, Equatable {
    /// Resume points per sending spool (the hop).
    var marks = UpstreamMarks()
    /// What is held per origin (exactly-once across paths).
    var ledger = OriginLedger()

    init() {}

    init(snapshot bytes: [UInt8]) throws {
        var reader = ByteArrayReader(bytes, what: "ferry listener snapshot")
        let marksLength = Int(try reader.read(UInt32.self))
        marks = try UpstreamMarks(snapshot: try reader.read(count: marksLength))
        ledger = try OriginLedger(reading: &reader)
    }

    func snapshot() -> [UInt8] {
        let marksBytes = marks.snapshot()
        var out: [UInt8] = []
        out.appendBigEndian(UInt32(marksBytes.count))
        out.append(contentsOf: marksBytes)
        out.append(contentsOf: ledger.snapshot())
        return out
    }

    mutating func apply(_ metadata: RecordMetadata, sequence: UInt64) {
        if let upstream = metadata.upstream { marks.record(upstream) }
        if let origin = metadata.origin {
            let now = Self.now()
            ledger.insert(origin, now: now)
            ledger.expireIfDue(now: now)
        }
    }

    /// Seconds since the epoch, for the ledger's quiet-origin retention.
    static func now() -> UInt64 {
        UInt64(max(0, Date().timeIntervalSince1970))
    }
}
