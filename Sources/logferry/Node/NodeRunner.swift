import Foundation
import LogFerryNode
import LogFerrySpool
import LogFerryWire
import Logging
import NIOCore
import ServiceLifecycle

/// Opens the spool, builds the stages a configuration names, and runs them as one node under
/// swift-service-lifecycle (SIGTERM and SIGINT shut down gracefully).
///
/// Which stages run follows from the keys present: `listen` adds a ferry listener, `to` a ferry sink,
/// `out` a file sink, `stdout` a stdout sink; the agent's inputs come in as `extraSources`.
struct NodeRunner {
    let configuration: NodeConfiguration
    let runtime: LogFerryRuntime

    /// Bootstraps logging and metrics for a node command, then runs the node until shutdown.
    static func run(_ configuration: NodeConfiguration, label: String) async throws {
        let runtime = LogFerryRuntime.bootstrap(logLevel: configuration.logLevel, label: label)
        try await NodeRunner(configuration: configuration, runtime: runtime).run()
    }

    /// Opens the spool, builds every stage the configuration names, and runs them until shutdown.
    func run() async throws {
        let logger = runtime.logger
        // An agent's profile is set before its first thread (LogFerryCommand.main).
        if configuration.takesBatchesIn, !MallocProfile.listener.apply() {
            logger.debug("glibc did not take the listener's malloc settings; running with its defaults")
        }
        let spool = try await Spool.open(
            SpoolConfiguration(
                directory: configuration.spool,
                segmentBytes: configuration.segmentBytes,
                fsync: configuration.fsync,
                maxBytes: configuration.maxSpoolBytes > 0 ? configuration.maxSpoolBytes : nil,
                capacityPolicy: configuration.spoolPolicy,
                retainBytes: Int64(configuration.retainBytes),
                retainAge: configuration.retainAge
            ),
            logger: Logger(label: "logferry.spool")
        )
        let key = try configuration.keyFile.map(Self.readKey)
        let readiness = NodeReadiness(waitingFor: readinessSteps)

        var sources: [any Service] = []
        var sinks: [any Service] = []
        // A receiver that writes files hands the bodies it inflated to check them to its file sink.
        let inflatedBatches = configuration.listen != nil && configuration.out != nil ? InflatedBatchCache() : nil
        if let listen = configuration.listen {
            var tls: TLSServerOptions?
            if let cert = configuration.tlsCert {
                guard let keyPath = configuration.tlsKey else { throw ConfigError.missing(key: "tls-key", role: "listener with tls-cert") }
                tls = TLSServerOptions(certificatePath: cert, keyPath: keyPath, clientCAPath: configuration.tlsClientCA)
            }
            let server = try await FerryServer(
                configuration: FerryServerConfiguration(
                    host: listen.host,
                    port: listen.port,
                    limits: configuration.limits,
                    key: key,
                    tls: tls,
                    idleTimeout: .seconds(configuration.idleTimeoutSeconds),
                    nodeName: configuration.hostName,
                    maxSessions: configuration.maxSessions,
                    maxBufferBytes: configuration.maxBufferBytes,
                    keys: try Self.handshakeKeys(sharedKey: key, keyDirectory: configuration.keyDir),
                    trustedRelays: Set(configuration.trustedRelays),
                    inflatedBatches: inflatedBatches
                ),
                spool: spool,
                logger: Logger(label: "logferry.listener"),
                onListening: { address in
                    LogFerryRuntime.announce("listening on \(address.ipAddress ?? listen.host):\(address.port ?? listen.port)")
                    readiness.started(Self.ferryListenerStep, detail: "listening on \(address.ipAddress ?? listen.host):\(address.port ?? listen.port)")
                }
            )
            sources.append(server)
        }
        sources += try agentSources(spool: spool, readiness: readiness)
        sources += journalSources(spool: spool, readiness: readiness)
        if !configuration.natsIn.isEmpty {
            sources.append(try await NATSSource(
                configuration: NATSSourceConfiguration(
                    connection: configuration.natsConnection(configuration.natsIn, role: "source"),
                    stream: configuration.natsStream,
                    subject: configuration.natsSubjectTemplate,
                    replicas: configuration.natsReplicas,
                    consumer: configuration.natsConsumer
                ),
                spool: spool,
                logger: Logger(label: "logferry.nats-source")
            ))
        }
        var ferrySink: FerrySink?
        if !configuration.to.isEmpty {
            var tls: TLSClientOptions?
            if configuration.tlsCA != nil || configuration.tlsClientCert != nil {
                tls = TLSClientOptions(
                    caPath: configuration.tlsCA,
                    certificatePath: configuration.tlsClientCert,
                    keyPath: configuration.tlsClientKey,
                    serverName: configuration.tlsServerName
                )
            }
            let sink = FerrySink(
                configuration: FerrySinkConfiguration(
                    upstreams: configuration.to,
                    selection: configuration.selection,
                    window: configuration.window,
                    key: key,
                    tls: tls,
                    hostName: configuration.hostName,
                    backoff: Backoff(
                        base: .milliseconds(configuration.backoffBaseMilliseconds),
                        cap: .milliseconds(configuration.backoffCapMilliseconds)
                    ),
                    progressTimeout: .seconds(configuration.progressTimeoutSeconds),
                    rebatch: configuration.rebatch,
                    replay: configuration.replaySince.map {
                        FerryReplay(since: $0.instant(now: Date().timeIntervalSince1970), request: $0.text, again: configuration.replayAgain)
                    }
                ),
                spool: spool,
                logger: Logger(label: "logferry.ferry-sink")
            )
            sinks.append(sink)
            ferrySink = sink
        }
        if let out = configuration.out {
            sinks.append(FileSink(
                configuration: FileSinkConfiguration(
                    directory: out, format: configuration.format, maxFileBytes: UInt64(configuration.rotateBytes),
                    keepsOutputsCached: configuration.keepOutputsCached, inflatedBatches: inflatedBatches),
                spool: spool,
                logger: Logger(label: "logferry.file-sink")
            ))
        }
        if !configuration.natsOut.isEmpty {
            sinks.append(NATSSink(
                configuration: NATSSinkConfiguration(
                    connection: configuration.natsConnection(configuration.natsOut, role: "sink"),
                    stream: configuration.natsStream,
                    subject: configuration.natsSubjectTemplate,
                    replicas: configuration.natsReplicas,
                    maxBytes: Int64(configuration.natsMaxBytes),
                    maxAge: configuration.natsMaxAge,
                    format: configuration.natsFormat
                ),
                spool: spool,
                logger: Logger(label: "logferry.nats-sink")
            ))
        }
        if configuration.stdout {
            sinks.append(StdoutSink(spool: spool, format: configuration.format, logger: Logger(label: "logferry.stdout-sink")))
        }
        if sinks.isEmpty {
            logger.warning("this node has no sink: batches will wait in \(configuration.spool)")
        }

        let node = Node(
            spool: spool,
            sources: sources,
            sinks: sinks,
            whenSourcesEnd: configuration.exitWhenDrained ? ferrySink.map { sink in
                { @Sendable in
                    let last = await spool.lastSequence
                    await sink.waitUntilAcknowledged(through: last)
                }
            } : nil,
            logger: logger
        )
        var services: [any Service] = [node]
        if let metrics = configuration.metricsListen {
            services.append(PrometheusEndpoint(host: metrics.host, port: metrics.port, registry: runtime.registry, logger: logger))
        }
        if !configuration.takesBatchesIn {
            // An agent (MallocProfile.edge): freed batch buffers go back to the kernel.
            services.append(FreedMemoryReleaser())
        }
        // Last, so that a graceful shutdown tells systemd STOPPING=1 first.
        services += systemdServices(spool: spool, readiness: readiness)
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: Logger(label: "logferry.lifecycle")
            )
        )
        try await group.run()
    }

    /// The agent's inputs: files, stdin, syslog.
    func agentSources(spool: Spool, readiness: NodeReadiness = NodeReadiness(waitingFor: [])) throws -> [any Service] {
        var sources: [any Service] = []
        if !configuration.files.isEmpty {
            sources.append(FileSource(
                spool: spool,
                host: configuration.hostName,
                policy: configuration.batch,
                tailer: FileTailerConfiguration(
                    patterns: configuration.files, excludes: configuration.excludes, maxLineBytes: configuration.maxLineBytes
                ).multiline(configuration.multiline),
                filter: configuration.fileFilter,
                logger: Logger(label: "logferry.files")
            ))
        }
        if configuration.syslogTCP != nil || configuration.syslogUDP != nil {
            let ingest = SpoolIngest(spool: spool, host: configuration.hostName, policy: configuration.batch, kind: "syslog", logger: Logger(label: "logferry.syslog"))
            sources.append(SyslogSource(
                tcp: try configuration.syslogTCP.map { try SocketAddress.makeAddressResolvingHost($0.host, port: $0.port) },
                udp: try configuration.syslogUDP.map { try SocketAddress.makeAddressResolvingHost($0.host, port: $0.port) },
                ingest: ingest,
                limits: SyslogTCPLimits(
                    maxConnections: configuration.syslogMaxConnections,
                    idleTimeout: .seconds(configuration.syslogIdleTimeoutSeconds)
                ),
                logger: Logger(label: "logferry.syslog"),
                filter: configuration.syslogFilter,
                onListening: { transport, address in
                    LogFerryRuntime.announce("syslog \(transport) listening on \(address.ipAddress ?? "?"):\(address.port ?? 0)")
                    readiness.started("syslog \(transport)", detail: "syslog \(transport) on \(address.ipAddress ?? "?"):\(address.port ?? 0)")
                }
            ))
        }
        if configuration.stdin {
            let ingest = SpoolIngest(spool: spool, host: configuration.hostName, policy: configuration.batch, kind: "stdin", logger: Logger(label: "logferry.stdin"))
            sources.append(StdinSource(ingest: ingest, maxLineBytes: configuration.maxLineBytes, filter: configuration.stdinFilter, logger: Logger(label: "logferry.stdin")))
        }
        return sources
    }

    /// Reads a shared key file: its bytes, without trailing whitespace.
    /// The keys a listener checks: per-host keys from `key-dir` (`HOST.key`), else the shared key, else none.
    static func handshakeKeys(sharedKey: [UInt8]?, keyDirectory: String?) throws -> HandshakeKeys {
        guard let keyDirectory else { return sharedKey.map { .shared($0) } ?? .none }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: keyDirectory).filter { $0.hasSuffix(".key") }
        } catch {
            throw ConfigError.unreadable(path: keyDirectory, reason: "the key directory cannot be listed: \(error)")
        }
        var keys: [String: [UInt8]] = [:]
        for name in names {
            keys[String(name.dropLast(4))] = try readKey(keyDirectory + "/" + name)
        }
        guard !keys.isEmpty else {
            throw ConfigError.unreadable(path: keyDirectory, reason: "no HOST.key file in the key directory")
        }
        return .perHost(keys)
    }

    static func readKey(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError.unreadable(path: path, reason: "the key file does not exist or is not readable")
        }
        var bytes = [UInt8](data)
        while let last = bytes.last, last == 0x0A || last == 0x0D || last == 0x20 || last == 0x09 { bytes.removeLast() }
        guard !bytes.isEmpty else { throw ConfigError.unreadable(path: path, reason: "the key file is empty") }
        return bytes
    }
}
