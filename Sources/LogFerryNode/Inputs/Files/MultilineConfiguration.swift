/// How a file source joins physical lines into multi-line events (a stack trace as one event):
/// `--multiline-start`, `--multiline-continue`, `--multiline-timeout`, `--multiline-max-bytes`.
public struct MultilineConfiguration: Sendable {
    /// What decides where an event begins.
    public enum Rule: Sendable {
        /// A line matching the pattern starts a new event; any other line is appended to the event before it
        /// (`--multiline-start '^[0-9]{4}-'`, `--multiline-start '^[^[:space:]]'`).
        case start(LineRegex)
        /// A line matching the pattern is appended to the event before it; any other line starts a new event
        /// (`--multiline-continue '^([[:space:]]|Caused by:)'`).
        case continuation(LineRegex)
    }

    /// Where an event begins.
    public var rule: Rule
    /// An unfinished event is handed out when no line has come for this long (the next line may never come).
    public var timeout: Duration
    /// An event is cut at this many bytes (its lines joined by `\n`); the rest of its lines are read and dropped,
    /// and the cut is counted in `logferry_file_multiline_cut_total`.
    public var maxBytes: Int

    /// Makes a configuration; `maxBytes` is at least 1.
    public init(rule: Rule, timeout: Duration = .seconds(2), maxBytes: Int = 1 << 20) {
        self.rule = rule
        self.timeout = timeout
        self.maxBytes = max(1, maxBytes)
    }
}
