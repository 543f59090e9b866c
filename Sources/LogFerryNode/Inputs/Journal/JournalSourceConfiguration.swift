import LogFerrySystemd

/// What a ``JournalSource`` reads: which journal, which entries, and how long a line may be.
public struct JournalSourceConfiguration: Sendable, Hashable {
    /// The local journal (`--journal`) or a directory of journal files (`--journal-dir`).
    public var location: JournalLocation
    /// `FIELD=VALUE` matches (`--journal-match`), as journalctl takes them: matches on one field are
    /// alternatives, on different fields all must hold; a lone `+` starts an alternative group.
    public var matches: [String]
    /// Longer messages are cut here (counted in `logferry_journal_lines_cut_total`).
    public var maxLineBytes: Int
    /// The longest the source waits for new entries before it looks at shutdown again.
    public var pollInterval: Duration
    /// Where reading starts when the spool holds no cursor yet (`--journal-from`): the head ships the journal's
    /// history, the tail only what is written from now on.
    public var start: JournalStart

    /// Creates a configuration.
    public init(
        location: JournalLocation,
        matches: [String] = [],
        maxLineBytes: Int = 1 << 20,
        pollInterval: Duration = .milliseconds(250),
        start: JournalStart = .head
    ) {
        self.location = location
        self.matches = matches
        self.start = start
        self.maxLineBytes = max(1, maxLineBytes)
        self.pollInterval = pollInterval
    }

    /// Checks a match's form (`FIELD=VALUE`, FIELD of capitals, digits and `_`, or a lone `+`) before the journal
    /// is opened, so a bad one is a configuration error naming it.
    /// - Returns: nil when the match is good, else what is wrong.
    public static func problem(with match: String) -> String? {
        if match == "+" { return nil }
        guard let equals = match.firstIndex(of: "=") else { return "expected FIELD=VALUE" }
        let field = match[..<equals]
        guard !field.isEmpty, field.utf8.allSatisfy({ ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }) else {
            return "the field name '\(field)' must be capitals, digits and '_' (e.g. _SYSTEMD_UNIT=nginx.service)"
        }
        return nil
    }
}
