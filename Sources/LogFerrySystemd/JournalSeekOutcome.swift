/// Where a ``JournalReader`` stands after ``JournalReader/seek(after:)``: what a source logs and counts.
public enum JournalSeekOutcome: Sendable, Hashable {
    /// No cursor was given: reading starts at the oldest entry still in the journal.
    case head
    /// No cursor was given and the reader was asked to start at the tail: only entries written from now on are read.
    case tail
    /// The entry the cursor names is still in the journal: reading continues with the entry after it.
    case afterCursor
    /// The entry the cursor names is gone: its file was rotated away and vacuumed, the matches changed, or the
    /// cursor belongs to another journal. Reading continues at the first entry after the cursor's position that
    /// still exists (the head when every remaining entry is newer); `firstEntryMicroseconds` is that entry's time,
    /// nil when no entry follows yet.
    case cursorMissing(firstEntryMicroseconds: UInt64?)
    /// The cursor does not parse as a journal cursor: reading starts at the head.
    case cursorInvalid
}
