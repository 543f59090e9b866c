import Foundation
import LogFerryTestSupport

extension TemporaryDirectory {
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
