import ArgumentParser
import LogFerryNode
import LogFerrySystemd

/// The agent's journal input flags: `--journal`, `--journal-dir`, `--journal-match`.
struct JournalOptions: ParsableArguments {
    @Flag(name: .long, help: "Read this machine's systemd journal (needs membership of systemd-journal or adm); resumes after the last entry stored, across kill -9.")
    var journal = false

    @Option(name: .customLong("journal-dir"), help: "Read the journal files in this directory instead (e.g. one written by systemd-journal-remote).")
    var journalDir: String?

    @Option(name: .customLong("journal-match"), help: "Only entries with FIELD=VALUE (repeat: same field = either, different fields = both; '+' starts an alternative group).")
    var journalMatch: [String] = []

    @Option(name: .customLong("journal-from"), help: "Where to start without a stored cursor: head (the journal's history) or tail (only new entries).")
    var journalFrom: String = "head"

    func apply(to configuration: inout NodeConfiguration) throws {
        configuration.journal = journal
        configuration.journalDir = journalDir
        configuration.journalMatches = try ConfigValue.journalMatches(journalMatch, key: "journal-match")
        configuration.journalFrom = try ConfigValue.journalStart(journalFrom, key: "journal-from")
        try ConfigValue.checkJournal(configuration)
    }
}

extension ConfigValue {
    /// `FIELD=VALUE` matches (or `+`), each checked.
    static func journalMatches(_ matches: [String], key: String) throws -> [String] {
        for match in matches {
            if let problem = JournalSourceConfiguration.problem(with: match) {
                throw ConfigError.badValue(key: key, value: match, expected: "FIELD=VALUE or '+': \(problem)")
            }
        }
        return matches
    }

    /// `head` or `tail`.
    static func journalStart(_ text: String, key: String) throws -> JournalStart {
        guard let start = JournalStart(rawValue: text) else {
            throw ConfigError.badValue(key: key, value: text, expected: "head or tail")
        }
        return start
    }

    /// One journal per node, and matches only with a journal.
    static func checkJournal(_ configuration: NodeConfiguration) throws {
        if configuration.journal, configuration.journalDir != nil {
            throw ConfigError.badValue(key: "journal-dir", value: configuration.journalDir ?? "", expected: "either journal or journal-dir, not both: a node reads one journal")
        }
        if !configuration.journalMatches.isEmpty, !configuration.journal, configuration.journalDir == nil {
            throw ConfigError.missing(key: "journal or journal-dir", role: "journal-match")
        }
        if configuration.journalFrom != .head, !configuration.journal, configuration.journalDir == nil {
            throw ConfigError.missing(key: "journal or journal-dir", role: "journal-from")
        }
    }
}
