import Foundation
import LogFerryWire

/// A next hop of a ferry sink.
public struct Upstream: Sendable, Hashable, CustomStringConvertible {
    /// Host name or address.
    public var host: String
    /// TCP port.
    public var port: Int

    /// Creates an upstream.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT` (`[v6]:PORT` for IPv6).
    public init?(parsing text: Substring) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)[...]
        guard let colon = trimmed.lastIndex(of: ":"), let port = Int(trimmed[trimmed.index(after: colon)...]),
            (0...65535).contains(port)
        else { return nil }
        var host = String(trimmed[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self.init(host: host, port: port)
    }

    /// Parses a comma-separated list of `HOST:PORT`.
    public static func parseList(_ text: String) -> [Upstream]? {
        let items = text.split(separator: ",").map { Upstream(parsing: $0) }
        guard !items.isEmpty, items.allSatisfy({ $0 != nil }) else { return nil }
        return items.compactMap { $0 }
    }

    /// `HOST:PORT`.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// How several upstreams are used.
public enum UpstreamSelection: String, Sendable, CaseIterable {
    /// Always the first that works, in the order given.
    case failover
    /// The next one on every new connection.
    case roundRobin = "round-robin"
}

/// How a ferry sink ships its spool to the next hop.
public struct FerrySinkConfiguration: Sendable {
    /// The next hops.
    public var upstreams: [Upstream]
    /// Failover or round-robin.
    public var selection: UpstreamSelection
    /// Batches in flight at most (also capped by the server's announced window).
    public var window: Int
    /// The shared key, when the upstream requires one.
    public var key: [UInt8]?
    /// TLS, when set.
    public var tls: TLSClientOptions?
    /// The host name announced in the client hello.
    public var hostName: String
    /// Reconnect backoff.
    public var backoff: Backoff
    /// How often to heartbeat.
    public var heartbeatInterval: Duration
    /// A peer that sends nothing for this long is abandoned.
    public var idleTimeout: Duration
    /// A peer that has batches in flight and acks none of them for this long is abandoned, even if it
    /// heartbeats.
    public var progressTimeout: Duration
    /// How long a connection attempt may take.
    public var connectTimeout: Duration
    /// The spool cursor this sink advances.
    public var cursorName: String
    /// Merge consecutive small batches from the same origin into bigger ones (a relay before a WAN hop).
    public var rebatch: Bool
    /// Send again, on start, the retained records sealed since a time (`--replay-since`).
    public var replay: FerryReplay?

    /// Creates a configuration.
    public init(
        upstreams: [Upstream],
        selection: UpstreamSelection = .failover,
        window: Int = 16,
        key: [UInt8]? = nil,
        tls: TLSClientOptions? = nil,
        hostName: String,
        backoff: Backoff = Backoff(),
        heartbeatInterval: Duration = .seconds(5),
        idleTimeout: Duration = .seconds(15),
        progressTimeout: Duration = .seconds(15),
        connectTimeout: Duration = .seconds(5),
        cursorName: String = "ferry",
        rebatch: Bool = false,
        replay: FerryReplay? = nil
    ) {
        self.replay = replay
        self.upstreams = upstreams
        self.selection = selection
        self.window = window
        self.key = key
        self.tls = tls
        self.hostName = hostName
        self.backoff = backoff
        self.heartbeatInterval = heartbeatInterval
        self.idleTimeout = idleTimeout
        self.progressTimeout = progressTimeout
        self.connectTimeout = connectTimeout
        self.cursorName = cursorName
        self.rebatch = rebatch
    }
}

/// A replay request (`--replay-since`): send again the retained records sealed at or after a time, so a
/// restored or new upstream gets what it is missing (it stores only that, by origin).
public struct FerryReplay: Sendable, Hashable {
    /// Seconds since the epoch.
    public var since: Double
    /// The request as the operator wrote it; recorded in the spool once carried out, so a restart with the
    /// same flag does not replay again.
    public var request: String
    /// Replay even if the same request was carried out before (`--replay-again`).
    public var again: Bool

    /// Creates a request.
    public init(since: Double, request: String, again: Bool = false) {
        self.since = since
        self.request = request
        self.again = again
    }
}
