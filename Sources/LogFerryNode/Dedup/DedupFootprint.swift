import Foundation
import LogFerrySpool

/// What the per-origin deduplication state costs, measured on a real `OriginLedger`: the figure behind
/// `logferry bench dedup` and the sizing advice in Docs/OPERATIONS.md.
public struct DedupFootprint: Sendable {
    /// Origins held.
    public var origins: Int
    /// Disjoint unit ranges per origin.
    var rangesPerOrigin: Int
    /// Resident memory the state added, in bytes (from /proc/self/statm, so approximate).
    public var residentBytes: Int
    /// The size of its snapshot (what a listener saves and a file sink commits), in bytes.
    public var snapshotBytes: Int
    /// Nanoseconds to look up one batch (a copy of a held unit).
    public var lookupNanoseconds: Double
    /// Nanoseconds to record one new in-order batch.
    public var insertNanoseconds: Double

    /// Builds a ledger of `origins` origins with `rangesPerOrigin` ranges each (gaps between them) and measures it.
    public static func measure(origins: Int, rangesPerOrigin: Int) -> DedupFootprint {
        let before = residentBytes()
        var ledger = OriginLedger()
        let ids = (0..<origins).map { _ in SpoolID.random() }
        let clock = ContinuousClock()
        var inserts = 0
        let insertTime = clock.measure {
            for id in ids {
                var unit: UInt64 = 1
                for _ in 0..<max(rangesPerOrigin, 1) {
                    // Two batches per range, then a gap.
                    ledger.insert(OriginCoverage(origin: id, sequence: unit, events: 100), now: 1)
                    ledger.insert(OriginCoverage(origin: id, sequence: unit + 1, events: 100), now: 1)
                    inserts += 2
                    unit += 3
                }
            }
        }
        let after = residentBytes()
        var lookups = 0
        var held = 0
        let lookupTime = clock.measure {
            for id in ids {
                if ledger.missing(OriginCoverage(origin: id, sequence: 1, events: 100)) == .nothing { held += 1 }
                lookups += 1
            }
        }
        precondition(held == lookups, "every first batch is held")
        return DedupFootprint(
            origins: origins, rangesPerOrigin: rangesPerOrigin, residentBytes: max(0, after - before),
            snapshotBytes: ledger.snapshot().count,
            lookupNanoseconds: Double(lookupTime.nanoseconds) / Double(max(lookups, 1)),
            insertNanoseconds: Double(insertTime.nanoseconds) / Double(max(inserts, 1)))
    }

    private static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
