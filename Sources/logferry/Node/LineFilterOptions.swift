import ArgumentParser
import LogFerryNode

/// Agent flags for line filters per source and multi-line events of the file source
/// (Docs/CONFIGURATION.md, "Filters" and "Multi-line events"). Every pattern is compiled here, once, at start:
/// a bad one is a configuration error that names its flag.
struct LineFilterOptions: ParsableArguments {
    @Option(name: .customLong("file-include"), help: "Ship only file lines (events) matching this POSIX extended regex (repeat: any of them).")
    var fileInclude: [String] = []

    @Option(name: .customLong("file-exclude"), help: "Drop file lines (events) matching this POSIX extended regex (repeatable; counted, offsets still advance).")
    var fileExclude: [String] = []

    @Option(name: .customLong("stdin-include"), help: "Ship only stdin lines matching this POSIX extended regex (repeat: any of them).")
    var stdinInclude: [String] = []

    @Option(name: .customLong("stdin-exclude"), help: "Drop stdin lines matching this POSIX extended regex (repeatable; counted).")
    var stdinExclude: [String] = []

    @Option(name: .customLong("syslog-include"), help: "Ship only syslog messages matching this POSIX extended regex (repeat: any of them).")
    var syslogInclude: [String] = []

    @Option(name: .customLong("syslog-exclude"), help: "Drop syslog messages matching this POSIX extended regex (repeatable; counted).")
    var syslogExclude: [String] = []

    @Option(name: .customLong("multiline-start"), help: "File lines matching this regex start an event; other lines are appended to it (e.g. '^[0-9]{4}-').")
    var multilineStart: String?

    @Option(name: .customLong("multiline-continue"), help: "File lines matching this regex continue the event before them (e.g. '^([[:space:]]|Caused by:)').")
    var multilineContinue: String?

    @Option(name: .customLong("multiline-timeout"), help: "Ship an unfinished multi-line event after this long without a new line (e.g. 2s, 500ms).")
    var multilineTimeout: String = "2s"

    @Option(name: .customLong("multiline-max-bytes"), help: "Cut a multi-line event at this many bytes (counted); the rest of its lines are dropped.")
    var multilineMaxBytes: Int = 1 << 20

    func apply(to configuration: inout NodeConfiguration) throws {
        configuration.fileFilter = try ConfigValue.filter(include: fileInclude, exclude: fileExclude, keys: ("file-include", "file-exclude"))
        configuration.stdinFilter = try ConfigValue.filter(include: stdinInclude, exclude: stdinExclude, keys: ("stdin-include", "stdin-exclude"))
        configuration.syslogFilter = try ConfigValue.filter(include: syslogInclude, exclude: syslogExclude, keys: ("syslog-include", "syslog-exclude"))
        if let multilineStart {
            try configuration.setMultilineStart(ConfigValue.regex(multilineStart, key: "multiline-start"))
        }
        if let multilineContinue {
            try configuration.setMultilineContinue(ConfigValue.regex(multilineContinue, key: "multiline-continue"))
        }
        configuration.multilineTimeout = try ConfigValue.multilineTimeout(multilineTimeout, key: "multiline-timeout")
        configuration.multilineMaxBytes = try ConfigValue.multilineMaxBytes(multilineMaxBytes, key: "multiline-max-bytes")
    }
}

extension ConfigValue {
    /// A POSIX extended regular expression, compiled now; a bad one names `key` and glibc's reason.
    static func regex(_ text: String, key: String) throws -> LineRegex {
        do {
            return try LineRegex(text)
        } catch {
            throw ConfigError.badValue(key: key, value: text, expected: "a POSIX extended regular expression; \(error.reason)")
        }
    }

    /// A filter from include and exclude patterns, each compiled now.
    static func filter(include: [String], exclude: [String], keys: (include: String, exclude: String)) throws -> LineFilter {
        LineFilter(
            include: try include.map { try regex($0, key: keys.include) },
            exclude: try exclude.map { try regex($0, key: keys.exclude) }
        )
    }

    /// `multiline-timeout`: a positive duration.
    static func multilineTimeout(_ text: String, key: String) throws -> Duration {
        let value = try duration(text, key: key)
        guard value > .zero else { throw ConfigError.badValue(key: key, value: text, expected: "a duration above zero, e.g. 2s") }
        return value
    }

    /// `multiline-max-bytes`: at least 1.
    static func multilineMaxBytes(_ value: Int, key: String) throws -> Int {
        guard value >= 1 else { throw ConfigError.badValue(key: key, value: "\(value)", expected: "at least 1") }
        return value
    }
}

extension NodeConfiguration {
    /// Sets `multiline-start`; an error when `multiline-continue` is set too (one rule per file source).
    mutating func setMultilineStart(_ pattern: LineRegex) throws {
        guard multilineContinue == nil else {
            throw ConfigError.badValue(key: "multiline-start", value: pattern.pattern, expected: "either multiline-start or multiline-continue, not both")
        }
        multilineStart = pattern
    }

    /// Sets `multiline-continue`; an error when `multiline-start` is set too.
    mutating func setMultilineContinue(_ pattern: LineRegex) throws {
        guard multilineStart == nil else {
            throw ConfigError.badValue(key: "multiline-continue", value: pattern.pattern, expected: "either multiline-start or multiline-continue, not both")
        }
        multilineContinue = pattern
    }

    /// The file source's multi-line configuration; nil when neither rule is set.
    var multiline: MultilineConfiguration? {
        let rule: MultilineConfiguration.Rule
        if let multilineStart {
            rule = .start(multilineStart)
        } else if let multilineContinue {
            rule = .continuation(multilineContinue)
        } else {
            return nil
        }
        return MultilineConfiguration(rule: rule, timeout: multilineTimeout, maxBytes: multilineMaxBytes)
    }
}

extension FileTailerConfiguration {
    /// This configuration with `multiline` set.
    func multiline(_ multiline: MultilineConfiguration?) -> FileTailerConfiguration {
        var copy = self
        copy.multiline = multiline
        return copy
    }
}
