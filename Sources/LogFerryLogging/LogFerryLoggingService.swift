import LogFerryNode
import LogFerrySpool
import Logging
import ServiceLifecycle

/// Ships an application's own logs through LogFerry: a small node inside the application whose source is the
/// ``LogFerryLogHandler``s' buffer and whose sink is a ferry sink, with the agent's batching, compression,
/// backoff and failover.
///
/// Create it first, bootstrap swift-log with its handlers, then run it in the application's `ServiceGroup`,
/// listed **first** so that it is shut down last and still takes the other services' shutdown logs:
///
/// ```swift
/// let logging = LogFerryLoggingService(configuration: try .init(spoolDirectory: "/var/lib/myapp/logs", to: "relay:7000"))
/// LoggingSystem.bootstrap { label in logging.makeLogHandler(label: label) }
/// let group = ServiceGroup(services: [logging, app], gracefulShutdownSignals: [.sigterm], logger: Logger(label: "myapp"))
/// try await group.run()
/// ```
///
/// Events logged before `run()` starts wait in the buffer. On graceful shutdown the service stores what is
/// buffered, seals the open batch, waits up to ``LogFerryLoggingConfiguration/shutdownTimeout`` for the upstream to
/// acknowledge everything, and returns; what was not acknowledged stays in the spool for the next run. A `kill -9`
/// loses only the events still in memory: at most ``LogFerryLoggingConfiguration/flushInterval`` of them, plus any
/// the buffer held while the spool was behind.
public final class LogFerryLoggingService: Service, Sendable {
    /// The configuration it was made with.
    public let configuration: LogFerryLoggingConfiguration
    let buffer: LogEventBuffer
    let internalLogger: Logger
    let metadataProvider: Logger.MetadataProvider?

    /// Creates the service and its in-memory buffer; nothing is opened before ``run()``.
    ///
    /// - Parameters:
    ///   - configuration: where to spool and ship, and the buffering policy.
    ///   - metadataProvider: metadata added to every event (e.g. trace ids), as swift-log providers are.
    ///   - internalLogger: where the embedded spool and ferry sink log their own troubles (reconnects, a full
    ///     disk). Never a LogFerry handler: it must not feed itself. Default: standard error, warnings and up.
    public init(
        configuration: LogFerryLoggingConfiguration,
        metadataProvider: Logger.MetadataProvider? = nil,
        internalLogger: Logger? = nil
    ) {
        self.configuration = configuration
        self.buffer = LogEventBuffer(capacity: configuration.bufferCapacity, policy: configuration.overflowPolicy)
        self.metadataProvider = metadataProvider
        self.internalLogger = internalLogger ?? {
            var logger = Logger(label: "logferry.logging") { StreamLogHandler.standardError(label: $0) }
            logger.logLevel = .warning
            return logger
        }()
    }

    /// A handler that logs into this service's buffer; hand it to `LoggingSystem.bootstrap`.
    public func makeLogHandler(label: String) -> LogFerryLogHandler {
        LogFerryLogHandler(label: label, buffer: buffer, metadataProvider: metadataProvider)
    }

    /// Events dropped so far (buffer full, or logged after the service stopped).
    public var droppedEvents: UInt64 { buffer.dropped }

    /// Opens the spool and runs the drain task and the ferry sink until graceful shutdown (or cancellation).
    public func run() async throws {
        guard !configuration.upstreams.isEmpty else {
            buffer.close()
            throw LogFerryLoggingError.noUpstreams(spool: configuration.spoolDirectory)
        }
        let spool: Spool
        do {
            spool = try await Spool.open(
                SpoolConfiguration(
                    directory: configuration.spoolDirectory,
                    fsync: configuration.fsync,
                    maxBytes: configuration.maxSpoolBytes,
                    capacityPolicy: configuration.spoolPolicy
                ),
                logger: internalLogger
            )
        } catch {
            buffer.close()
            throw error
        }
        let ingest = SpoolIngest(
            spool: spool,
            host: configuration.hostName,
            policy: BatchPolicy(
                maxEvents: configuration.maxBatchEvents,
                maxBytes: configuration.maxBatchBytes,
                linger: configuration.flushInterval,
                compressionLevel: configuration.compressionLevel
            ),
            kind: "swift-log",
            logger: internalLogger
        )
        let sink = FerrySink(
            configuration: FerrySinkConfiguration(
                upstreams: configuration.upstreams,
                selection: configuration.selection,
                window: configuration.window,
                key: configuration.key,
                tls: configuration.tls,
                hostName: configuration.hostName,
                backoff: configuration.backoff
            ),
            spool: spool,
            logger: internalLogger
        )
        let timeout = configuration.shutdownTimeout
        let node = Node(
            spool: spool,
            sources: [BufferDrain(buffer: buffer, ingest: ingest, warningInterval: .seconds(10))],
            sinks: [sink],
            whenSourcesEnd: { await Self.waitUntilShipped(spool: spool, sink: sink, timeout: timeout) },
            logger: internalLogger
        )
        try await node.run()
    }

    /// Waits until the sink has everything in the spool acknowledged, or `timeout` passes (polled: the sink's
    /// waiter cannot be cancelled).
    static func waitUntilShipped(spool: Spool, sink: FerrySink, timeout: Duration) async {
        let last = await spool.lastSequence
        let deadline = ContinuousClock.now + timeout
        while await sink.acknowledged < last, ContinuousClock.now < deadline {
            do {
                try await Task.sleep(for: .milliseconds(20))
            } catch {
                return
            }
        }
    }
}
