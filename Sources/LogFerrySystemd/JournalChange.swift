/// What ``JournalReader/wait(timeout:)`` saw happen to the journal.
public enum JournalChange: Sendable, Hashable {
    /// Nothing within the timeout.
    case none
    /// Entries were appended.
    case appended
    /// Journal files were added or removed: a rotation, a vacuum, a new file in the directory. Reading continues
    /// from the current position.
    case filesChanged
}
