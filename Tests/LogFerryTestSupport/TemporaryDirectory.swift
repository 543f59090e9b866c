import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A fresh directory under the system temp directory for one test; `remove()` deletes it (call it in a `defer`,
/// or let ``FerryScene`` do it).
public struct TemporaryDirectory: Sendable {
    /// The absolute path.
    public let path: String

    /// Makes `$TMPDIR/logferry-<label>-<uuid>`, readable by every user (mode 755) so a test that drops its
    /// privileges can still reach the files in it.
    public init(_ label: String = "test") throws {
        path = NSTemporaryDirectory() + "logferry-\(label)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        chmod(path, 0o755)
    }

    /// A path inside the directory.
    public func file(_ name: String) -> String { path + "/" + name }

    /// Deletes the directory and everything in it.
    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// The bytes of a file inside the directory.
    public func read(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: file(name))))
    }

    /// Replaces a file inside the directory.
    public func write(_ name: String, _ bytes: [UInt8]) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: file(name)))
    }

    /// The names in a subdirectory, sorted.
    public func list(_ name: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: file(name))) ?? []).sorted()
    }
}
