import Foundation
import LogFerryNode
import LogFerryWire
import TOMLKit

/// A node's TOML configuration file: flat keys named exactly like the command-line flags
/// (`listen = "0.0.0.0:7514"`, `to = ["central:7514"]`), so a flag and its key never mean two things.
///
/// An unknown key, a value of the wrong type, or a missing required key is an error that names the key
/// and the line. Docs/CONFIGURATION.md lists every key with its default.
enum ConfigFile {
    /// Reads and checks the file at `path`.
    static func load(path: String) throws -> NodeConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError.unreadable(path: path, reason: "the file does not exist or is not readable")
        }
        return try parse(String(decoding: data, as: UTF8.self), path: path)
    }

    /// Parses TOML text; `path` only names the file in errors.
    static func parse(_ text: String, path: String) throws -> NodeConfiguration {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigFileError(path: path, line: Int(error.source.begin.line), key: nil, problem: "not valid TOML: \(error.description)")
        }
        var configuration = NodeConfiguration()
        var seen = Set<String>()
        for key in table.keys {
            let line = lineOf(key, in: text)
            guard let entry = ConfigKey.all[key] else {
                let suggestion = ConfigKey.all.keys.min { editDistance($0, key) < editDistance($1, key) } ?? ""
                throw ConfigFileError(path: path, line: line, key: key, problem: "unknown key (did you mean '\(suggestion)'?)")
            }
            guard let value = table[key] else { continue }
            do {
                try entry.apply(&configuration, value)
            } catch let error as ConfigError {
                throw ConfigFileError(path: path, line: line, key: key, problem: "\(error)")
            } catch let error as ConfigKey.TypeMismatch {
                throw ConfigFileError(path: path, line: line, key: key, problem: "expected \(error.expected), got \(value.type)")
            }
            seen.insert(key)
        }
        try ConfigValue.checkJournal(configuration)
        guard seen.contains("spool") else {
            throw ConfigFileError(path: path, line: nil, key: "spool", problem: "missing: every node needs a spool directory")
        }
        let hasSource = seen.contains("listen") || !configuration.natsIn.isEmpty || configuration.stdin || !configuration.files.isEmpty
            || configuration.syslogTCP != nil || configuration.syslogUDP != nil
            || configuration.journal || configuration.journalDir != nil
        guard hasSource else {
            throw ConfigFileError(path: path, line: nil, key: "listen", problem: "missing: a node needs a source (listen, file, stdin, syslog-tcp, syslog-udp, journal or journal-dir)")
        }
        return configuration
    }

    /// The line (1-based) where `key` is assigned, for error messages.
    static func lineOf(_ key: String, in text: String) -> Int? {
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            for candidate in [key, "\"\(key)\""] where trimmed.hasPrefix(candidate) {
                let rest = trimmed.dropFirst(candidate.count).drop { $0 == " " || $0 == "\t" }
                if rest.hasPrefix("=") { return index + 1 }
            }
        }
        return nil
    }

    private static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where i <= a.count {
            var previous = row[0]
            row[0] = i
            for j in 1...max(b.count, 1) where j <= b.count {
                let current = row[j]
                row[j] = a[i - 1] == b[j - 1] ? previous : min(previous, row[j], row[j - 1]) + 1
                previous = current
            }
        }
        return row[b.count]
    }
}

/// A configuration file error: which file, which line, which key, what is wrong.
struct ConfigFileError: Error, CustomStringConvertible {
    var path: String
    var line: Int?
    var key: String?
    var problem: String

    var description: String {
        var where_ = path
        if let line { where_ += ":\(line)" }
        if let key { return "\(where_): \(key): \(problem)" }
        return "\(where_): \(problem)"
    }
}

/// One config key: its name (the flag's long name) and how its value lands in a `NodeConfiguration`.
struct ConfigKey: Sendable {
    let apply: @Sendable (inout NodeConfiguration, TOMLValueConvertible) throws -> Void

    struct TypeMismatch: Error {
        var expected: String
    }

    static func string(_ set: @escaping @Sendable (inout NodeConfiguration, String) throws -> Void) -> ConfigKey {
        ConfigKey { configuration, value in
            guard let text = value.string else { throw TypeMismatch(expected: "a string") }
            try set(&configuration, text)
        }
    }

    static func int(_ set: @escaping @Sendable (inout NodeConfiguration, Int) throws -> Void) -> ConfigKey {
        ConfigKey { configuration, value in
            guard let number = value.int else { throw TypeMismatch(expected: "an integer") }
            try set(&configuration, number)
        }
    }

    static func bool(_ set: @escaping @Sendable (inout NodeConfiguration, Bool) throws -> Void) -> ConfigKey {
        ConfigKey { configuration, value in
            guard let flag = value.bool else { throw TypeMismatch(expected: "true or false") }
            try set(&configuration, flag)
        }
    }

    /// A list of strings; a single string is taken as a list of one (`to = "a:1"` or `to = ["a:1", "b:2"]`).
    static func strings(_ set: @escaping @Sendable (inout NodeConfiguration, [String]) throws -> Void) -> ConfigKey {
        ConfigKey { configuration, value in
            if let text = value.string { return try set(&configuration, [text]) }
            guard let array = value.array else { throw TypeMismatch(expected: "a string or a list of strings") }
            var items: [String] = []
            for element in array {
                guard let text = element.string else { throw TypeMismatch(expected: "a list of strings") }
                items.append(text)
            }
            try set(&configuration, items)
        }
    }

    /// Every key. The names are the long flag names of `agent`, `relay` and `receive`.
    static let all: [String: ConfigKey] = [
        "spool": .string { $0.spool = $1 },
        "fsync": .string { $0.fsync = try ConfigValue.fsync($1, key: "fsync") },
        "max-spool-bytes": .int { $0.maxSpoolBytes = $1 },
        "spool-policy": .string { $0.spoolPolicy = try ConfigValue.policy($1, key: "spool-policy") },
        "segment-bytes": .int { $0.segmentBytes = $1 },
        "retain-bytes": .int { $0.retainBytes = $1 },
        "retain-age": .string { $0.retainAge = try ConfigValue.duration($1, key: "retain-age") },
        "replay-since": .string { $0.replaySince = try ConfigValue.replaySince($1, key: "replay-since") },
        "replay-again": .bool { $0.replayAgain = $1 },
        "listen": .string { $0.listen = try ConfigValue.address($1, key: "listen") },
        "key-file": .string { $0.keyFile = $1 },
        "tls-cert": .string { $0.tlsCert = $1 },
        "tls-key": .string { $0.tlsKey = $1 },
        "tls-client-ca": .string { $0.tlsClientCA = $1 },
        "idle-timeout": .int { $0.idleTimeoutSeconds = $1 },
        "max-sessions": .int { $0.maxSessions = $1 },
        "max-buffer-bytes": .int { $0.maxBufferBytes = $1 },
        "key-dir": .string { $0.keyDir = $1 },
        "trusted-relays": .strings { $0.trustedRelays = $1 },
        "to": .strings { $0.to = try ConfigValue.upstreams($1.joined(separator: ","), key: "to") },
        "selection": .string { $0.selection = try ConfigValue.selection($1, key: "selection") },
        "window": .int { $0.window = $1 },
        "tls-ca": .string { $0.tlsCA = $1 },
        "tls-client-cert": .string { $0.tlsClientCert = $1 },
        "tls-client-key": .string { $0.tlsClientKey = $1 },
        "tls-server-name": .string { $0.tlsServerName = $1 },
        "host-name": .string { $0.hostName = $1 },
        "backoff-base-ms": .int { $0.backoffBaseMilliseconds = $1 },
        "backoff-cap-ms": .int { $0.backoffCapMilliseconds = $1 },
        "progress-timeout": .int { $0.progressTimeoutSeconds = $1 },
        "rebatch": .bool { $0.rebatch = $1 },
        "out": .string { $0.out = $1 },
        "format": .string { $0.format = try ConfigValue.format($1, key: "format") },
        "rotate-bytes": .int { $0.rotateBytes = $1 },
        "keep-outputs-cached": .bool { $0.keepOutputsCached = $1 },
        "stdout": .bool { $0.stdout = $1 },
        "stdin": .bool { $0.stdin = $1 },
        "exit-when-drained": .bool { $0.exitWhenDrained = $1 },
        "max-line-bytes": .int { $0.maxLineBytes = $1 },
        "batch-events": .int { $0.batch.maxEvents = $1 },
        "batch-bytes": .int { $0.batch.maxBytes = $1 },
        "linger-ms": .int { $0.batch.linger = .milliseconds($1) },
        "compression-level": .int {
            guard (0...9).contains($1) else { throw ConfigError.badValue(key: "compression-level", value: "\($1)", expected: "0 to 9") }
            $0.batch.compressionLevel = $1
        },
        "compressor": .string { $0.batch.compressor = try ConfigValue.compressor($1, key: "compressor") },
        "metrics-listen": .string { $0.metricsListen = try ConfigValue.address($1, key: "metrics-listen") },
        "log-level": .string { $0.logLevel = $1 },
        "file": .strings { $0.files = $1 },
        "exclude": .strings { $0.excludes = $1 },
        "syslog-tcp": .string { $0.syslogTCP = try ConfigValue.address($1, key: "syslog-tcp") },
        "syslog-udp": .string { $0.syslogUDP = try ConfigValue.address($1, key: "syslog-udp") },
        "syslog-max-connections": .int {
            guard $1 >= 1 else { throw ConfigError.badValue(key: "syslog-max-connections", value: "\($1)", expected: "at least 1") }
            $0.syslogMaxConnections = $1
        },
        "syslog-idle-timeout": .int {
            guard $1 >= 1 else { throw ConfigError.badValue(key: "syslog-idle-timeout", value: "\($1)", expected: "at least 1 (seconds)") }
            $0.syslogIdleTimeoutSeconds = $1
        },
        // Line filters and multi-line events (Node/LineFilterOptions.swift).
        "file-include": .strings { $0.fileFilter.include = try $1.map { try ConfigValue.regex($0, key: "file-include") } },
        "file-exclude": .strings { $0.fileFilter.exclude = try $1.map { try ConfigValue.regex($0, key: "file-exclude") } },
        "stdin-include": .strings { $0.stdinFilter.include = try $1.map { try ConfigValue.regex($0, key: "stdin-include") } },
        "stdin-exclude": .strings { $0.stdinFilter.exclude = try $1.map { try ConfigValue.regex($0, key: "stdin-exclude") } },
        "syslog-include": .strings { $0.syslogFilter.include = try $1.map { try ConfigValue.regex($0, key: "syslog-include") } },
        "syslog-exclude": .strings { $0.syslogFilter.exclude = try $1.map { try ConfigValue.regex($0, key: "syslog-exclude") } },
        "multiline-start": .string { try $0.setMultilineStart(ConfigValue.regex($1, key: "multiline-start")) },
        "multiline-continue": .string { try $0.setMultilineContinue(ConfigValue.regex($1, key: "multiline-continue")) },
        "multiline-timeout": .string { $0.multilineTimeout = try ConfigValue.multilineTimeout($1, key: "multiline-timeout") },
        "multiline-max-bytes": .int { $0.multilineMaxBytes = try ConfigValue.multilineMaxBytes($1, key: "multiline-max-bytes") },
        "nats-out": .strings { $0.natsOut = try ConfigValue.natsServers($1.joined(separator: ","), key: "nats-out") },
        "nats-in": .strings { $0.natsIn = try ConfigValue.natsServers($1.joined(separator: ","), key: "nats-in") },
        "nats-stream": .string { $0.natsStream = try ConfigValue.natsName($1, key: "nats-stream") },
        "nats-subject": .string { $0.natsSubject = try ConfigValue.natsSubject($1, key: "nats-subject") },
        "nats-replicas": .int { $0.natsReplicas = try ConfigValue.natsReplicas($1, key: "nats-replicas") },
        "nats-max-bytes": .int { $0.natsMaxBytes = $1 },
        "nats-max-age": .string { $0.natsMaxAge = try ConfigValue.duration($1, key: "nats-max-age") },
        "nats-format": .string { $0.natsFormat = try ConfigValue.natsFormat($1, key: "nats-format") },
        "nats-consumer": .string { $0.natsConsumer = try ConfigValue.natsName($1, key: "nats-consumer") },
        "journal": .bool { $0.journal = $1 },
        "journal-dir": .string { $0.journalDir = $1 },
        "journal-match": .strings { $0.journalMatches = try ConfigValue.journalMatches($1, key: "journal-match") },
        "journal-from": .string { $0.journalFrom = try ConfigValue.journalStart($1, key: "journal-from") },
    ]
}
