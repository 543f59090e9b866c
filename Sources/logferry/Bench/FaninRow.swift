import Foundation

/// The figures of one `logferry bench fanin` row, and how they print.
struct FaninRow {
    var agents: Int
    var rate: Double
    var linesPerBatch: Int
    var batchesPerAgent: Int
    var results: [FaninSessionResult]
    var start: ContinuousClock.Instant
    var end: ContinuousClock.Instant
    var connectTime: Duration
    /// The listener before any session, with every session connected and idle, and after the run.
    var before: ProcessFigures?
    var connected: ProcessFigures?
    var peak: ProcessFigures?
    var peakFDs: Int
    var cpuSeconds: Double?
    var written: Duration?

    static let header = "agents | rate/agent | offered b/s | accepted b/s | lines/s  | ack p50 ms | ack p99 ms | fair  | connect s | RSS MiB before/idle/peak | KiB/session | CPU s | fds   | refused | written s"

    /// Batches acknowledged over all sessions.
    var acknowledged: Int { results.reduce(0) { $0 + $1.acknowledged } }

    /// Acknowledged batches per second, from the start to the last ack.
    var acceptedRate: Double {
        let last = results.compactMap(\.lastAck).max() ?? end
        let seconds = max((last - start).seconds, 1e-3)
        return Double(acknowledged) / seconds
    }

    /// Each session's rate: its acked batches over the time from its start to its last ack, plus one interval
    /// (a session that keeps up shows `rate`). Sorted, slowest first.
    var sessionRates: [Double] {
        results.map { result in
            guard let last = result.lastAck else { return 0 }
            return Double(result.acknowledged) / max((last - start).seconds + 1 / rate, 1e-3)
        }.sorted()
    }

    /// The slowest session's rate over the median session's: 1 when all are served alike, under 0.5 when one starves.
    var fairness: Double {
        let rates = sessionRates
        guard let slowest = rates.first, !rates.isEmpty else { return 0 }
        let median = rates[rates.count / 2]
        return median > 0 ? slowest / median : 0
    }

    /// The `quantile` of every batch's ack latency, in milliseconds.
    func latency(_ quantile: Double) -> Double {
        let all = results.flatMap(\.latencies).sorted()
        guard !all.isEmpty else { return 0 }
        return all[min(all.count - 1, Int(Double(all.count) * quantile))].seconds * 1000
    }

    /// Peak resident memory above the listener's start, per session, in KiB.
    var kibPerSession: Double? {
        guard let before, let peak else { return nil }
        return Double(peak.peakResidentBytes - before.residentBytes) / 1024 / Double(agents)
    }

    /// The row as printed under ``header``.
    var line: String {
        func mib(_ bytes: Int?) -> String { bytes.map { String($0 >> 20) } ?? "-" }
        let memory = "\(mib(before?.residentBytes))/\(mib(connected?.residentBytes))/\(mib(peak?.peakResidentBytes))"
        return [
            String(agents).leftPadded(6),
            BenchFiles.format(rate, 2).leftPadded(10),
            BenchFiles.format(Double(agents) * rate, 0).leftPadded(11),
            BenchFiles.format(acceptedRate, 0).leftPadded(12),
            BenchFiles.format(acceptedRate * Double(linesPerBatch), 0).leftPadded(8),
            BenchFiles.format(latency(0.5), 1).leftPadded(10),
            BenchFiles.format(latency(0.99), 1).leftPadded(10),
            BenchFiles.format(fairness, 2).leftPadded(5),
            BenchFiles.format(connectTime.seconds, 1).leftPadded(9),
            memory.leftPadded(24),
            (kibPerSession.map { BenchFiles.format($0, 1) } ?? "-").leftPadded(11),
            (cpuSeconds.map { BenchFiles.format($0, 1) } ?? "-").leftPadded(5),
            (before == nil ? "-" : String(peakFDs)).leftPadded(5),
            String(results.reduce(0) { $0 + $1.refusals }).leftPadded(7),
            (written.map { BenchFiles.format($0.seconds, 1) } ?? "-").leftPadded(9),
        ].joined(separator: " | ")
            + (acknowledged < agents * batchesPerAgent ? "  (only \(acknowledged) of \(agents * batchesPerAgent) batches acked before the timeout)" : "")
    }
}
