import ArgumentParser
import LogFerryNode

/// `logferry bench dedup`: what the per-origin deduplication state costs in memory, snapshot size and time.
struct DedupBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dedup",
        abstract: "Measure the per-origin deduplication state: memory and snapshot size per 10,000 origins, lookup and insert time."
    )

    @Option(name: .long, help: "Origins to hold.")
    var origins: Int = 10_000

    @Option(name: .customLong("ranges"), help: "Disjoint ranges per origin to measure (comma-separated).")
    var ranges: String = "1,16,256"

    func run() throws {
        print("origins  ranges/origin  resident MB  snapshot MB  bytes/origin  lookup ns  insert ns")
        for count in ranges.split(separator: ",").compactMap({ Int($0) }) {
            let result = DedupFootprint.measure(origins: origins, rangesPerOrigin: count)
            let perOrigin = result.residentBytes / max(result.origins, 1)
            print(String(
                format: "%7d  %13d  %11.2f  %11.2f  %12d  %9.0f  %9.0f",
                result.origins, count, Double(result.residentBytes) / 1e6, Double(result.snapshotBytes) / 1e6,
                perOrigin, result.lookupNanoseconds, result.insertNanoseconds))
        }
    }
}
