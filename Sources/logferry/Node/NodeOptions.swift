import Foundation
import ArgumentParser
import LogFerryNode
import LogFerrySpool

/// Spool flags, shared by every node command.
struct SpoolOptions: ParsableArguments {
    @Option(name: .long, help: "The spool directory (created when missing).")
    var spool: String

    @Option(name: .long, help: "When the spool fsyncs: always (per group commit), interval[:MS], never.")
    var fsync: String = "always"

    @Option(name: .customLong("max-spool-bytes"), help: "Cap the spool at this many bytes (0 = no cap).")
    var maxSpoolBytes: Int = 0

    @Option(name: .customLong("spool-policy"), help: "What a full spool does: block, drop-oldest, drop-newest.")
    var spoolPolicy: String = "block"

    @Option(name: .customLong("segment-bytes"), help: "Spool segment size.")
    var segmentBytes: Int = 64 << 20

    @Option(name: .customLong("retain-bytes"), help: "Keep acknowledged records for replay up to this many bytes (0 = delete on ack unless --retain-age).")
    var retainBytes: Int = 0

    @Option(name: .customLong("retain-age"), help: "Keep acknowledged records for replay while younger than this (e.g. 90m, 24h, 7d).")
    var retainAge: String?

    func apply(to configuration: inout NodeConfiguration) throws {
        configuration.spool = spool
        configuration.fsync = try ConfigValue.fsync(fsync, key: "fsync")
        configuration.maxSpoolBytes = maxSpoolBytes
        configuration.spoolPolicy = try ConfigValue.policy(spoolPolicy, key: "spool-policy")
        configuration.segmentBytes = segmentBytes
        configuration.retainBytes = retainBytes
        configuration.retainAge = try retainAge.map { try ConfigValue.duration($0, key: "retain-age") }
    }
}

/// Ferry listener flags (relay, receive).
struct ListenOptions: ParsableArguments {
    @Option(name: .long, help: "HOST:PORT for the ferry listener (port 0 picks one; the real one is printed).")
    var listen: String

    @Option(name: .customLong("tls-cert"), help: "PEM certificate: serve TLS.")
    var tlsCert: String?

    @Option(name: .customLong("tls-key"), help: "PEM private key for --tls-cert.")
    var tlsKey: String?

    @Option(name: .customLong("tls-client-ca"), help: "PEM CA: require client certificates it signed (mutual TLS).")
    var tlsClientCA: String?

    @Option(name: .customLong("idle-timeout"), help: "Seconds without a byte from a peer before it is dropped (the liveness timeout; peers heartbeat every 5 s).")
    var idleTimeout: Int = 15

    @Option(name: .customLong("max-sessions"), help: "Sessions served at once; more are refused with retry-later.")
    var maxSessions: Int = 4096

    @Option(name: .customLong("max-buffer-bytes"), help: "Bytes of batches all sessions may hold before they are stored; past it batches are refused with retry-later.")
    var maxBufferBytes: Int = 256 << 20

    @Option(name: .customLong("key-dir"), help: "Directory of per-host keys (HOST.key): each client proves its own host name and may send only its own batches.")
    var keyDir: String?

    @Option(name: .customLong("trusted-relays"), help: "With --key-dir or mutual TLS (--tls-client-ca): host names (comma-separated) allowed to forward other origins' batches.")
    var trustedRelays: String?

    func apply(to configuration: inout NodeConfiguration) throws {
        configuration.maxSessions = maxSessions
        configuration.maxBufferBytes = maxBufferBytes
        configuration.keyDir = keyDir
        configuration.trustedRelays = trustedRelays.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } } ?? []
        configuration.listen = try ConfigValue.address(listen, key: "listen")
        configuration.tlsCert = tlsCert
        configuration.tlsKey = tlsKey
        configuration.tlsClientCA = tlsClientCA
        configuration.idleTimeoutSeconds = idleTimeout
    }
}

/// Ferry sink flags (agent, relay).
struct ShipOptions: ParsableArguments {
    @Option(name: .long, help: "Upstreams HOST:PORT[,HOST:PORT...], tried in order.")
    var to: String

    @Option(name: .long, help: "failover (first that works) or round-robin.")
    var selection: String = "failover"

    @Option(name: .long, help: "Batches in flight per connection.")
    var window: Int = 16

    @Option(name: .customLong("tls-ca"), help: "PEM CA to verify upstreams: ship over TLS.")
    var tlsCA: String?

    @Option(name: .customLong("tls-client-cert"), help: "PEM client certificate for mutual TLS.")
    var tlsClientCert: String?

    @Option(name: .customLong("tls-client-key"), help: "PEM client key for mutual TLS.")
    var tlsClientKey: String?

    @Option(name: .customLong("tls-server-name"), help: "Name the upstream certificate must carry (default: the upstream host).")
    var tlsServerName: String?

    @Option(name: .customLong("host-name"), help: "Origin host name put in batches.")
    var hostName: String?

    @Option(name: .customLong("backoff-base-ms"), help: "First reconnect delay ceiling.")
    var backoffBase: Int = 100

    @Option(name: .customLong("backoff-cap-ms"), help: "Largest reconnect delay ceiling.")
    var backoffCap: Int = 30_000

    @Option(name: .customLong("progress-timeout"), help: "Seconds an upstream may hold batches without acking before it is abandoned.")
    var progressTimeout: Int = 15

    @Flag(name: .long, help: "Merge consecutive small batches from the same origin into bigger ones (a relay before a WAN hop).")
    var rebatch = false

    @Option(name: .customLong("replay-since"), help: "On start, send again the retained records sealed at or after this RFC 3339 time or this long ago (e.g. 6h); the upstream writes only what it is missing.")
    var replaySince: String?

    @Flag(name: .customLong("replay-again"), help: "Replay even if this --replay-since was already carried out.")
    var replayAgain = false

    func apply(to configuration: inout NodeConfiguration) throws {
        configuration.to = try ConfigValue.upstreams(to, key: "to")
        configuration.selection = try ConfigValue.selection(selection, key: "selection")
        configuration.window = window
        configuration.tlsCA = tlsCA
        configuration.tlsClientCert = tlsClientCert
        configuration.tlsClientKey = tlsClientKey
        configuration.tlsServerName = tlsServerName
        if let hostName { configuration.hostName = hostName }
        configuration.backoffBaseMilliseconds = backoffBase
        configuration.backoffCapMilliseconds = backoffCap
        configuration.progressTimeoutSeconds = progressTimeout
        configuration.rebatch = rebatch
        configuration.replaySince = try replaySince.map { try ConfigValue.replaySince($0, key: "replay-since") }
        configuration.replayAgain = replayAgain
    }
}

/// Flags every node command has.
struct CommonOptions: ParsableArguments {
    @Option(name: .customLong("key-file"), help: "File holding the shared key (both ends must have the same).")
    var keyFile: String?

    @Option(name: .customLong("metrics-listen"), help: "HOST:PORT for the Prometheus /metrics endpoint.")
    var metricsListen: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func apply(to configuration: inout NodeConfiguration) throws {
        configuration.keyFile = keyFile
        configuration.metricsListen = try metricsListen.map { try ConfigValue.address($0, key: "metrics-listen") }
        configuration.logLevel = logLevel
    }
}

/// Parsers shared by the flags and the config file, so both accept and reject the same values.
enum ConfigValue {
    static func fsync(_ text: String, key: String) throws -> FsyncPolicy {
        guard let policy = FsyncPolicy(parsing: text) else {
            throw ConfigError.badValue(key: key, value: text, expected: "always, interval, interval:MS or never")
        }
        return policy
    }

    static func policy(_ text: String, key: String) throws -> CapacityPolicy {
        guard let policy = CapacityPolicy(rawValue: text) else {
            throw ConfigError.badValue(key: key, value: text, expected: "block, drop-oldest or drop-newest")
        }
        return policy
    }

    static func address(_ text: String, key: String) throws -> Upstream {
        guard let address = Upstream(parsing: text[...]) else {
            throw ConfigError.badValue(key: key, value: text, expected: "HOST:PORT")
        }
        return address
    }

    static func upstreams(_ text: String, key: String) throws -> [Upstream] {
        guard let list = Upstream.parseList(text) else {
            throw ConfigError.badValue(key: key, value: text, expected: "HOST:PORT[,HOST:PORT...]")
        }
        return list
    }

    static func selection(_ text: String, key: String) throws -> UpstreamSelection {
        guard let selection = UpstreamSelection(rawValue: text) else {
            throw ConfigError.badValue(key: key, value: text, expected: "failover or round-robin")
        }
        return selection
    }

    /// A duration such as `90s`, `15m`, `6h`, `7d` (a bare number is seconds).
    static func duration(_ text: String, key: String) throws -> Duration {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        for (suffix, milliseconds) in units where text.hasSuffix(suffix) {
            if let value = Int64(text.dropLast(suffix.count)), value >= 0 { return .milliseconds(value * milliseconds) }
        }
        if let seconds = Int64(text), seconds >= 0 { return .seconds(seconds) }
        throw ConfigError.badValue(key: key, value: text, expected: "a duration such as 90s, 15m, 6h or 7d")
    }

    /// An RFC 3339 time (`2026-11-30T08:00:00Z`) or a duration before now (`6h`).
    static func replaySince(_ text: String, key: String) throws -> ReplaySince {
        if let duration = try? duration(text, key: key) { return ReplaySince(text: text, ago: duration) }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let plain = ISO8601DateFormatter()
        guard let date = formatter.date(from: text) ?? plain.date(from: text) else {
            throw ConfigError.badValue(key: key, value: text, expected: "an RFC 3339 time such as 2026-11-30T08:00:00Z, or a duration such as 6h")
        }
        return ReplaySince(text: text, instant: date.timeIntervalSince1970)
    }

    static func format(_ text: String, key: String) throws -> EventFormat {
        guard let format = EventFormat(rawValue: text) else {
            throw ConfigError.badValue(key: key, value: text, expected: "raw or json")
        }
        return format
    }
}

/// A configuration value or file that cannot be used; says which key, where, and what was expected.
enum ConfigError: Error, CustomStringConvertible {
    case badValue(key: String, value: String, expected: String)
    case missing(key: String, role: String)
    case unreadable(path: String, reason: String)

    var description: String {
        switch self {
        case .badValue(let key, let value, let expected):
            return "invalid value '\(value)' for \(key): expected \(expected)"
        case .missing(let key, let role):
            return "missing \(key): a \(role) needs it"
        case .unreadable(let path, let reason):
            return "cannot read \(path): \(reason)"
        }
    }
}
