/// What an append does when the spool has reached `SpoolConfiguration.maxBytes`.
///
/// Every dropped batch and byte is counted (statistics, metrics, `logferry spool inspect`).
public enum CapacityPolicy: String, Sendable, CaseIterable {
    /// The append waits until cursors pass old segments and they are deleted (a tailed file simply waits).
    case block
    /// The oldest segments are deleted, whether or not every cursor has passed them, to make room.
    case dropOldest = "drop-oldest"
    /// The new batch is not stored; `append` returns `.dropped`.
    case dropNewest = "drop-newest"
}
