import LogFerryNode
import LogFerrySpool
import LogFerrySystemd
import LogFerryWire

/// Everything a node needs to run, whichever way it was given: flags of `agent`, `relay`, `receive`, or a
/// TOML file for `run`. Each field is one flag and one config key of the same name (see Docs/CONFIGURATION.md).
struct NodeConfiguration: Sendable {
    // Spool.
    /// `spool`: the spool directory.
    var spool: String = "spool/node"
    /// `fsync`: always | interval[:MS] | never.
    var fsync: FsyncPolicy = .always
    /// `max-spool-bytes`: the spool's size cap (0 = none).
    var maxSpoolBytes: Int = 0
    /// `spool-policy`: block | drop-oldest | drop-newest.
    var spoolPolicy: CapacityPolicy = .block
    /// `segment-bytes`: segment size.
    var segmentBytes: Int = 64 << 20
    /// `retain-bytes`: keep acknowledged records for replay up to this many bytes (0: no byte limit).
    var retainBytes: Int = 0
    /// `retain-age`: keep acknowledged records for replay while younger than this.
    var retainAge: Duration?

    // Ferry listener (a source).
    /// `listen`: HOST:PORT of the ferry listener.
    var listen: Upstream?
    /// `key-file`: the shared key (listener and sink).
    var keyFile: String?
    /// `tls-cert`, `tls-key`: the listener's TLS certificate and key.
    var tlsCert: String?
    var tlsKey: String?
    /// `tls-client-ca`: require client certificates signed by this CA (mutual TLS).
    var tlsClientCA: String?
    /// `idle-timeout`: the liveness timeout, seconds without a byte (or a client hello) before a peer is dropped.
    var idleTimeoutSeconds: Int = 15
    /// `max-sessions`: sessions a listener serves at once.
    var maxSessions: Int = 4096
    /// `max-buffer-bytes`: bytes of batches a listener's sessions may hold before they are stored.
    var maxBufferBytes: Int = 256 << 20
    /// `key-dir`: per-host keys of a listener (`HOST.key`).
    var keyDir: String?
    /// `trusted-relays`: host names allowed to forward other origins' batches.
    var trustedRelays: [String] = []
    /// `max-frame-bytes`, `max-batch-bytes`, `max-batch-events`: the listener's announced limits.
    var limits: WireLimits = .default

    // Ferry sink.
    /// `to`: upstreams, HOST:PORT, in failover order.
    var to: [Upstream] = []
    /// `selection`: failover | round-robin.
    var selection: UpstreamSelection = .failover
    /// `window`: batches in flight.
    var window: Int = 16
    /// `tls-ca`: verify upstreams against this CA (enables TLS to upstreams).
    var tlsCA: String?
    /// `tls-client-cert`, `tls-client-key`: our certificate for mutual TLS.
    var tlsClientCert: String?
    var tlsClientKey: String?
    /// `tls-server-name`: the name upstream certificates must carry.
    var tlsServerName: String?
    /// `host-name`: the origin host name in batches and hellos.
    var hostName: String = NodeConfiguration.defaultHostName
    /// `backoff-base-ms`, `backoff-cap-ms`: reconnect backoff.
    var backoffBaseMilliseconds: Int = 100
    var backoffCapMilliseconds: Int = 30_000
    /// `progress-timeout`: seconds a peer may hold batches without acking before it is abandoned.
    var progressTimeoutSeconds: Int = 15
    /// `rebatch`: merge consecutive small batches from the same origin before shipping.
    var rebatch: Bool = false
    /// `replay-since`: on start, send again the retained records sealed at or after this time.
    var replaySince: ReplaySince?
    /// `replay-again`: replay even if the same `replay-since` was already carried out.
    var replayAgain: Bool = false

    // File sink.
    /// `out`: the file sink's output directory.
    var out: String?
    /// `format`: raw | json (file and stdout sinks).
    var format: EventFormat = .raw
    /// `rotate-bytes`: rotate output files at this size.
    var rotateBytes: Int = 256 << 20
    /// `keep-outputs-cached`: leave output files' durable pages in the page cache instead of dropping them.
    var keepOutputsCached: Bool = false
    /// `stdout`: also write events to standard output.
    var stdout: Bool = false

    // Agent inputs and batching.
    /// `file`: paths and globs of files to tail.
    var files: [String] = []
    /// `exclude`: globs of files the `file` patterns match but that are not tailed.
    var excludes: [String] = []
    /// `syslog-tcp`, `syslog-udp`: syslog listeners.
    var syslogTCP: Upstream?
    var syslogUDP: Upstream?
    /// `syslog-max-connections`: syslog TCP connections served at once; more are closed at accept.
    var syslogMaxConnections: Int = 1024
    /// `syslog-idle-timeout`: seconds a syslog TCP connection may send nothing before it is closed.
    var syslogIdleTimeoutSeconds: Int = 300
    /// `stdin`: read lines from standard input.
    var stdin: Bool = false
    /// `exit-when-drained`: once the inputs end, exit when the upstream has acknowledged everything.
    var exitWhenDrained: Bool = false
    /// `max-line-bytes`: longer lines are cut here (the cut is counted).
    var maxLineBytes: Int = 1 << 20
    /// `batch-events`, `batch-bytes`, `linger-ms`, `compression-level`, `compressor`: when batches are sealed
    /// and how.
    var batch: BatchPolicy = BatchPolicy()

    // Line filters and multi-line events (Node/LineFilterOptions.swift).
    /// `file-include`, `file-exclude`: which file lines (events) ship.
    var fileFilter: LineFilter = .none
    /// `stdin-include`, `stdin-exclude`: which stdin lines ship.
    var stdinFilter: LineFilter = .none
    /// `syslog-include`, `syslog-exclude`: which syslog messages ship.
    var syslogFilter: LineFilter = .none
    /// `multiline-start`: a file line matching it starts an event.
    var multilineStart: LineRegex?
    /// `multiline-continue`: a file line matching it continues the event before it.
    var multilineContinue: LineRegex?
    /// `multiline-timeout`: an unfinished event ships after this long without a new line.
    var multilineTimeout: Duration = .seconds(2)
    /// `multiline-max-bytes`: events are cut at this size.
    var multilineMaxBytes: Int = 1 << 20

    // Observability.
    /// `metrics-listen`: HOST:PORT of the Prometheus endpoint.
    var metricsListen: Upstream?
    /// `log-level`: trace | debug | info | notice | warning | error | critical.
    var logLevel: String = "info"

    // NATS JetStream (sink and source).
    /// `nats-out`: NATS server URLs to publish the spool to (a JetStream sink).
    var natsOut: [String] = []
    /// `nats-in`: NATS server URLs to read batches from (a JetStream source, a durable pull consumer).
    var natsIn: [String] = []

    /// Whether this node takes batches from other nodes (a ferry listener or a JetStream source): a relay or a
    /// receiver. A node that does not is an agent.
    var takesBatchesIn: Bool { listen != nil || !natsIn.isEmpty }
    /// `nats-stream`: the JetStream stream.
    var natsStream: String = "LOGFERRY"
    /// `nats-subject`: the subject template (`{host}` is the batch's origin host).
    var natsSubject: String = "logs.{host}"
    /// `nats-replicas`: replicas of a stream this node creates.
    var natsReplicas: Int = 1
    /// `nats-max-bytes`: size limit of a stream this node creates (-1: none).
    var natsMaxBytes: Int = -1
    /// `nats-max-age`: how long a stream this node creates keeps a message.
    var natsMaxAge: Duration?
    /// `nats-format`: batch | events (what the sink publishes).
    var natsFormat: NATSPayloadFormat = .batch
    /// `nats-consumer`: the durable consumer name of the source.
    var natsConsumer: String = "logferry"
    // Journal input.
    /// `journal`: read this machine's systemd journal.
    var journal: Bool = false
    /// `journal-dir`: read the journal files in this directory instead.
    var journalDir: String?
    /// `journal-match`: FIELD=VALUE matches on the journal entries read (`+` starts an alternative group).
    var journalMatches: [String] = []
    /// `journal-from`: head | tail, where reading starts without a stored cursor.
    var journalFrom: JournalStart = .head

    /// This machine's host name.
    static var defaultHostName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

#if canImport(Glibc)
import Glibc
#endif
