import LogFerrySpool

/// Reads every readable record of a spool without waiting.
func readAll(_ spool: Spool, from sequence: UInt64 = 1) async throws -> [SpoolRecord] {
    let reader = spool.makeReader(from: sequence)
    var records: [SpoolRecord] = []
    while let record = try await reader.nextIfAvailable() { records.append(record) }
    return records
}

/// Deterministic payload bytes for record `n`.
func payload(_ n: Int, size: Int = 100) -> [UInt8] {
    (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ n &* 7) }
}
