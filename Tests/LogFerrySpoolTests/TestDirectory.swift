import Foundation

/// A fresh directory under the system temp directory, removed by `remove()` (call it in a `defer`).
struct TestDirectory {
    let path: String

    init(_ label: String = "spool") throws {
        path = NSTemporaryDirectory() + "logferry-\(label)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }

    func file(_ name: String) -> String { path + "/" + name }

    /// The segment file names present, sorted.
    func segments(in spool: String = "spool") -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: file(spool) + "/segments")) ?? [])
            .filter { $0.hasSuffix(".seg") }.sorted()
    }

    /// Copies the spool directory as a crashed process would leave it (without its lock): a crash snapshot.
    func crashCopy(of spool: String, to copy: String) throws {
        try FileManager.default.copyItem(atPath: file(spool), toPath: file(copy))
        try? FileManager.default.removeItem(atPath: file(copy) + "/lock")
    }
}

/// Reads every readable record of a spool without waiting.
func readAll(_ spool: LogFerrySpool.Spool, from sequence: UInt64 = 1) async throws -> [LogFerrySpool.SpoolRecord] {
    let reader = spool.makeReader(from: sequence)
    var records: [LogFerrySpool.SpoolRecord] = []
    while let record = try await reader.nextIfAvailable() { records.append(record) }
    return records
}

import LogFerrySpool

/// Deterministic payload bytes for record `n`.
func payload(_ n: Int, size: Int = 100) -> [UInt8] {
    (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ n &* 7) }
}
