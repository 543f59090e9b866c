/// The file positions an agent has durably reached, derived from its spool: each record that holds tailed
/// lines carries the checkpoints of the files those lines came from. Rebuilt on start (snapshot plus the
/// records after it), it tells the tailer where to resume, so a kill -9 neither skips nor re-reads a line.
struct FileOffsets: SpoolDerivedState, Equatable {
    /// The furthest checkpoint per file (by device and inode).
    private(set) var checkpoints: [FileIdentityKey: FileCheckpoint] = [:]

    /// No file read yet.
    init() {}

    /// Restores a snapshot made by `snapshot()` (or by the file source from its tailer).
    init(snapshot: [UInt8]) throws {
        for checkpoint in try FileCheckpoint.decode(snapshot) {
            checkpoints[FileIdentityKey(checkpoint.identity)] = checkpoint
        }
    }

    /// The bytes of a snapshot.
    func snapshot() -> [UInt8] {
        FileCheckpoint.encode(Array(checkpoints.values))
    }

    /// Folds in the checkpoints a record carries.
    mutating func apply(_ metadata: RecordMetadata, sequence: UInt64) {
        guard let bytes = metadata.fileCheckpoints, let decoded = try? FileCheckpoint.decode(bytes) else { return }
        for checkpoint in decoded {
            checkpoints[FileIdentityKey(checkpoint.identity)] = checkpoint
        }
    }
}

/// A file's device and inode: what names it while its content (and so its fingerprint) grows.
struct FileIdentityKey: Hashable, Sendable {
    /// Device number.
    var device: UInt64
    /// Inode number.
    var inode: UInt64

    /// The key of `identity`.
    init(_ identity: FileIdentity) {
        self.device = identity.device
        self.inode = identity.inode
    }
}
