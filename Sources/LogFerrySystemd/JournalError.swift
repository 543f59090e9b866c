#if canImport(Glibc)
import Glibc
#endif

/// A libsystemd call that failed: which call, on which journal, the error, and what an operator can do.
public struct JournalError: Error, CustomStringConvertible, Sendable {
    /// The call or step that failed, e.g. `sd_journal_open_directory`.
    public var operation: String
    /// The journal it was about (``JournalLocation/description``).
    public var journal: String
    /// The positive errno libsystemd returned (negated), 0 when not an errno.
    public var code: Int32
    /// More about the failure, or what to do about it.
    public var detail: String?

    /// Creates an error from a negative libsystemd return value.
    init(_ operation: String, journal: String, result: Int32, detail: String? = nil) {
        self.operation = operation
        self.journal = journal
        self.code = result < 0 ? -result : result
        self.detail = detail
    }

    /// An operator-facing description.
    public var description: String {
        var text = "\(operation) failed for \(journal)"
        if code != 0 { text += ": \(String(cString: strerror(code)))" }
        if let detail { text += "; \(detail)" }
        if code == EACCES || code == EPERM {
            text += "; the process needs read access to the journal files (membership of the systemd-journal or adm group)"
        }
        return text
    }
}
