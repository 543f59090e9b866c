/// A small checksummed state file that is replaced atomically (temp file, fdatasync, rename, directory
/// fsync), for state that lives outside a spool directory — a file sink keeps its committed file lengths
/// and deduplication state next to the files it writes, so the two can only be restored together.
public enum DurableStateFile {
    /// What reading found.
    public enum Contents: Equatable, Sendable {
        /// No file.
        case missing
        /// A file that is not a whole state file (the reason says why).
        case corrupt(String)
        /// The body of an intact file.
        case body([UInt8])
    }

    /// Reads the state file at `path`.
    public static func read(_ path: String) -> Contents {
        switch StateFile.read(path) {
        case .missing: .missing
        case .corrupt(let reason): .corrupt(reason)
        case .body(let body): .body(body)
        }
    }

    /// Replaces the state file at `path` with `body`, durably.
    public static func write(_ body: [UInt8], to path: String) throws {
        try StateFile.write(body, to: path, durable: true)
    }
}
