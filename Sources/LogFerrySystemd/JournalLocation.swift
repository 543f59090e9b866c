/// Which journal a ``JournalReader`` reads.
public enum JournalLocation: Sendable, Hashable, CustomStringConvertible {
    /// This machine's journal: the system journal and the user journals the process may read
    /// (`sd_journal_open` with `SD_JOURNAL_LOCAL_ONLY`). Reading it takes membership of `systemd-journal` or `adm`.
    case local
    /// Every journal file in one directory (`sd_journal_open_directory`), such as one written by
    /// `systemd-journal-remote` or copied from another host. Files added, rotated or deleted there are followed.
    case directory(String)

    /// How logs and errors name the journal.
    public var description: String {
        switch self {
        case .local: return "the local journal"
        case .directory(let path): return "the journal directory \(path)"
        }
    }
}
