/// Where reading of one file stands: every line before `offset` has been handed out.
///
/// The agent stores the list of checkpoints (``FileCheckpoint/encode(_:)``) in the metadata of the spool record that
/// holds the lines, so the spool is the registry: after a restart, ``FileTailer`` resumes each file exactly after the
/// last line that reached the spool.
struct FileCheckpoint: Hashable, Sendable, Codable {
    /// The file.
    var identity: FileIdentity
    /// The last path the file was seen under.
    var path: String
    /// The byte offset just after the last line handed out.
    var offset: UInt64

    /// Makes a checkpoint.
    init(identity: FileIdentity, path: String, offset: UInt64) {
        self.identity = identity
        self.path = path
        self.offset = offset
    }
}
