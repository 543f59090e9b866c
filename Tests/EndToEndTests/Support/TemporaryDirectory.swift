import Foundation

/// A fresh directory under the system temp directory for one test; `remove()` deletes it (call it in a `defer`).
struct TemporaryDirectory: Sendable {
    /// The absolute path.
    let path: String

    /// Makes `$TMPDIR/logferry-<label>-<uuid>`.
    init(_ label: String = "test") throws {
        path = NSTemporaryDirectory() + "logferry-\(label)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// A path inside the directory.
    func file(_ name: String) -> String { path + "/" + name }

    /// Deletes the directory and everything in it.
    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// The bytes of a file inside the directory.
    func read(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: file(name))))
    }

    /// Replaces a file inside the directory.
    func write(_ name: String, _ bytes: [UInt8]) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: file(name)))
    }

    /// The names in a subdirectory, sorted.
    func list(_ name: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: file(name))) ?? []).sorted()
    }
}
