/// Where a ``JournalReader`` starts when it has no cursor to resume after.
public enum JournalStart: String, Sendable, Hashable, CaseIterable {
    /// The oldest entry still in the journal: everything the journal holds is read.
    case head
    /// After the newest entry: only entries written from now on are read.
    case tail
}
