import LogFerryNATS
import LogFerrySpool
import LogFerryWire
import Logging
import ServiceLifecycle
import Synchronization

/// The JetStream source: a durable pull consumer that stores the batches of a stream in the local spool.
///
/// Each message's batch is checked (CRC, inflate within the limits) and admitted the way a ferry listener admits
/// a batch (``OriginAdmission``): deduplicated by its origin, so a redelivered message, or a batch that also came
/// another way, is not stored twice. A message is acknowledged only once its batch is durable in the spool; a
/// crash before the ack means JetStream delivers it again, which the origin ledger recognises. What the spool
/// holds per origin is rebuilt on start from the spool's records (a snapshot in its own cursor).
public final class NATSSource: Service, Sendable {
    let configuration: NATSSourceConfiguration
    let spool: Spool
    let logger: Logger
    let registry: UpstreamRegistry
    let snapshotter: SpoolSnapshotter<ListenerState>
    let rebuilt: ListenerState
    let rebuiltThrough: UInt64
    let metrics = NATSSourceMetrics()
    let stopping = Atomic<Bool>(false)
    /// Messages acknowledged and messages terminated since start (for progress checks).
    let acknowledgedMessages = Atomic<Int>(0)
    let rejectedMessages = Atomic<Int>(0)

    /// The cursor whose state snapshots what the source holds per origin.
    static let ledgerCursor = "nats-source-ledger"

    /// Rebuilds what the spool holds per origin and prepares the source; `run()` connects and reads.
    public init(configuration: NATSSourceConfiguration, spool: Spool, logger: Logger) async throws {
        self.configuration = configuration
        self.spool = spool
        self.logger = logger
        self.snapshotter = SpoolSnapshotter(spool: spool, cursorName: Self.ledgerCursor, logger: logger)
        let (state, through) = try await snapshotter.rebuild()
        self.rebuilt = state
        self.rebuiltThrough = through
        self.registry = UpstreamRegistry(state: state)
    }

    /// Reads until graceful shutdown or cancellation; the snapshot of the origin ledger follows alongside.
    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { [snapshotter, rebuilt, rebuiltThrough] in
                try await snapshotter.follow(state: rebuilt, through: rebuiltThrough)
            }
            await withGracefulShutdownHandler {
                await self.consume()
            } onGracefulShutdown: {
                self.stopping.store(true, ordering: .relaxed)
            }
            group.cancelAll()
            try await group.waitForAll()
        }
    }

    private var shouldStop: Bool { Task.isCancelled || stopping.load(ordering: .relaxed) }

    /// Connects, binds the durable consumer, and reads; on a failure says why and tries again with backoff.
    private func consume() async {
        var backoff = configuration.backoff
        var connection: NATSConnection?
        var consumer: NATSPullConsumer?
        while !shouldStop {
            do {
                if connection == nil {
                    connection = try await NATSConnection.connect(configuration.connection, logger: logger)
                }
                if consumer == nil, let connection {
                    consumer = try await bind(connection)
                }
                guard let consumer else { continue }
                try await read(from: consumer, backoff: &backoff)
            } catch let error as NATSError {
                metrics.failures.increment()
                logger.warning("\(error); retrying")
                if error.kind == .notFound || error.kind == .noJetStream {
                    // The stream or consumer went away: bind again.
                    await consumer?.close()
                    consumer = nil
                }
            } catch is CancellationError {
                break
            } catch {
                // The spool failed (full disk, fsync error): what was fetched is not acked and comes again.
                metrics.failures.increment()
                logger.error("JetStream source: \(error); the messages are delivered again later")
            }
            if shouldStop { break }
            do {
                try await Task.sleep(for: backoff.next())
            } catch {
                break
            }
        }
        // Acknowledgements are sent without waiting for the server; send what is still buffered before leaving.
        try? await consumer?.flush(timeout: .seconds(2))
        await consumer?.close()
        await connection?.close()
    }

    private func bind(_ connection: NATSConnection) async throws -> NATSPullConsumer {
        let stream = NATSStreamConfiguration(
            name: configuration.stream, subjects: [configuration.subject.streamSubject], replicas: configuration.replicas)
        if case .differs(let differences) = try await connection.ensureStream(stream) {
            logger.warning("JetStream stream \(configuration.stream) exists with other settings than asked for; using it as it is: \(differences.joined(separator: "; "))")
        }
        let consumer = try await connection.pullConsumer(NATSConsumerConfiguration(
            stream: configuration.stream, durable: configuration.consumer, filterSubject: configuration.subject.streamSubject,
            ackWait: configuration.ackWait))
        logger.info("reading JetStream stream \(configuration.stream) as durable consumer \(configuration.consumer)")
        return consumer
    }

    /// Fetches, stores and acknowledges until shutdown or a failure.
    private func read(from consumer: NATSPullConsumer, backoff: inout Backoff) async throws {
        var decoder = BatchDecoder(limits: BatchSplitter.localLimits)
        while !shouldStop {
            let messages = try await consumer.fetch(max: configuration.fetchSize, timeout: configuration.fetchTimeout)
            backoff.reset()
            guard let last = messages.last else { continue }
            var accepted: [NATSInboundMessage] = []
            var pending: SpoolPendingAppend?
            for message in messages {
                metrics.fetched.increment()
                if message.isRedelivery { metrics.redelivered.increment() }
                do {
                    if let written = try await store(message, decoder: &decoder) { pending = written }
                    accepted.append(message)
                } catch let error as NATSBatchMessageError {
                    try await reject(message, consumer: consumer, reason: "\(error)")
                } catch let error as WireError {
                    try await reject(message, consumer: consumer, reason: "its batch fails its checks: \(error)")
                }
            }
            // Acknowledge only what is durable: a crash before this point means JetStream delivers it again.
            if let pending { _ = try await spool.waitUntilDurable(pending) }
            for message in accepted {
                try await consumer.ack(message)
                metrics.acked.increment()
                acknowledgedMessages.add(1, ordering: .relaxed)
            }
            metrics.lag.record(Int64(clamping: last.pending))
        }
    }

    /// Checks and admits the batch of `message`; returns the write to wait for.
    private func store(_ message: NATSInboundMessage, decoder: inout BatchDecoder) async throws -> SpoolPendingAppend? {
        let (sealed, coverage) = try NATSBatchMessage.decode(headers: message.headers, payload: message.payload)
        _ = try decoder.validate(sealed)
        let (pending, outcome) = try await OriginAdmission.admit(
            sealed, coverage: coverage, position: nil, registry: registry, spool: spool, decoder: &decoder)
        switch outcome {
        case .duplicate:
            metrics.duplicates.increment()
        case .stored:
            metrics.batchesIn.increment()
            metrics.eventsIn.increment(by: Int64(sealed.eventCount))
        case .trimmed(let events):
            metrics.batchesIn.increment()
            metrics.eventsIn.increment(by: Int64(events))
        }
        return pending
    }

    private func reject(_ message: NATSInboundMessage, consumer: NATSPullConsumer, reason: String) async throws {
        metrics.rejected.increment()
        rejectedMessages.add(1, ordering: .relaxed)
        logger.error("JetStream message \(message.streamSequence) on \(message.subject) is \(reason); terminating it (never delivered again)")
        try await consumer.terminate(message)
    }
}
