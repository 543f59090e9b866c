import LogFerryNATS
import LogFerrySpool
import LogFerryWire
import Logging
import ServiceLifecycle

/// The JetStream sink: publishes every record of the spool to a NATS JetStream stream and advances its cursor
/// only once JetStream acknowledged the record's messages (stored on a majority of the stream's replicas).
///
/// Exactly once into the stream: every message's id (`Nats-Msg-Id`) names the origin and the events it carries,
/// so the records published again after a reconnect, a failed publish or a crash (everything after the committed
/// cursor) are dropped by the stream's duplicate window. While the cluster cannot take messages (no server, no
/// quorum, a full stream) the sink says why, retries with backoff and full jitter, and the spool absorbs the
/// backlog.
public final class NATSSink: Service, Sendable {
    let configuration: NATSSinkConfiguration
    let spool: Spool
    let logger: Logger
    let metrics = NATSSinkMetrics()
    let progress = FerrySinkProgress()

    /// Creates a sink over `spool`; `run()` publishes until cancelled.
    public init(configuration: NATSSinkConfiguration, spool: Spool, logger: Logger) {
        self.configuration = configuration
        self.spool = spool
        self.logger = logger
    }

    /// The highest spool sequence JetStream has acknowledged.
    public var acknowledged: UInt64 {
        get async { await progress.acknowledged }
    }

    /// Waits until everything up to `sequence` is acknowledged by JetStream.
    public func waitUntilAcknowledged(through sequence: UInt64) async {
        await progress.waitUntil(sequence)
    }

    /// Connects, makes sure the stream exists, and publishes until cancelled.
    public func run() async throws {
        let start = try await spool.cursor(named: configuration.cursorName)
        await progress.advance(to: start.committed)
        var backoff = configuration.backoff
        var connection: NATSConnection?
        var streamReady = false
        attempts: while !Task.isCancelled {
            do {
                if connection == nil {
                    connection = try await NATSConnection.connect(configuration.connection, logger: logger)
                }
                guard let connection else { continue }
                if !streamReady {
                    // Once connected, the client reconnects on its own: only the stream check is repeated.
                    try await prepareStream(connection)
                    streamReady = true
                }
                try await publish(over: connection, backoff: &backoff)
                break attempts
            } catch is CancellationError {
                break attempts
            } catch let error as NATSError {
                metrics.failures.increment()
                if error.kind == .clusterUnavailable || error.kind == .notFound || error.kind == .noJetStream {
                    // No stream takes the subject now: a leader election, or the stream is gone (deleted by an
                    // operator). Check it again, creating it if it is missing, before the next publish.
                    streamReady = false
                }
                if !error.isTransient {
                    logger.error("\(error); retrying, batches wait in the spool meanwhile")
                } else {
                    logger.warning("\(error); retrying, batches wait in the spool meanwhile")
                }
            }
            do {
                try await Task.sleep(for: backoff.next())
            } catch {
                break attempts
            }
        }
        await connection?.close()
    }

    private func prepareStream(_ connection: NATSConnection) async throws {
        switch try await connection.ensureStream(configuration.streamConfiguration) {
        case .created:
            logger.info("created JetStream stream \(configuration.stream) on \(configuration.subject.streamSubject) with \(configuration.replicas) replica(s)")
        case .matches:
            logger.info("publishing to JetStream stream \(configuration.stream)")
        case .differs(let differences):
            logger.warning("JetStream stream \(configuration.stream) exists with other settings than asked for; using it as it is: \(differences.joined(separator: "; "))")
        }
    }

    /// Publishes from the committed cursor on, a group of records at a time, until cancelled or a failure.
    private func publish(over connection: NATSConnection, backoff: inout Backoff) async throws {
        var committed = await progress.acknowledged
        // Headers (origin, sizes, host) take a few hundred bytes; keep well clear of the limit.
        let payloadLimit = max(4096, try await connection.maxPayload - 4096)
        let reader = spool.makeReader(from: committed + 1)
        var decoder = BatchDecoder(limits: BatchSplitter.localLimits)
        while true {
            guard let first = try await reader.next() else { return }
            var records = [first]
            while records.count < configuration.recordsPerPublish, let next = try await reader.nextIfAvailable() {
                records.append(next)
            }
            var messages: [NATSOutboundMessage] = []
            var events = 0
            for record in records {
                do {
                    let made = try self.messages(for: record, payloadLimit: payloadLimit, decoder: &decoder)
                    messages += made.messages
                    events += made.events
                } catch {
                    metrics.skipped.increment()
                    logger.error("JetStream sink: spool record \(record.sequence) does not decode (\(error)); skipping it")
                }
            }
            let last = records[records.count - 1].sequence
            if !messages.isEmpty {
                metrics.published.increment(by: Int64(messages.count))
                let result = try await connection.publish(messages, timeout: configuration.publishTimeout)
                metrics.acked.increment(by: Int64(result.stored))
                metrics.duplicates.increment(by: Int64(result.duplicates))
            }
            metrics.records.increment(by: Int64(records.count))
            metrics.events.increment(by: Int64(events))
            try await spool.commit(cursor: configuration.cursorName, through: last)
            committed = last
            await progress.advance(to: committed)
            backoff.reset()
            let newest = await spool.lastSequence
            metrics.lag.record(Int64(clamping: newest >= committed ? newest - committed : 0))
        }
    }

    /// The messages of one spool record, in the configured format, and its event count. A batch larger than
    /// `payloadLimit` (the server's `max_payload` less room for headers) is cut the way a ferry hop cuts one
    /// (``BatchSplitter``): each part names the origin events it carries, and the cut depends only on the record,
    /// so a resend has the same parts and the same ids.
    func messages(
        for record: SpoolRecord, payloadLimit: Int = .max, decoder: inout BatchDecoder
    ) throws -> (messages: [NATSOutboundMessage], events: Int) {
        let sealed = try SealedBatch(serialized: record.payload)
        let metadata = try RecordMetadata(decoding: record.metadata)
        let coverage = OriginCoverage.of(
            sequence: record.sequence, metadata: metadata, eventCount: sealed.eventCount, spoolID: spool.id)
        switch configuration.format {
        case .batch:
            let host = try decoder.validate(sealed)
            let subject = configuration.subject.subject(host: host)
            guard sealed.compressed.count > payloadLimit else {
                return ([NATSBatchMessage.make(sealed, coverage: coverage, host: host, subject: subject)], Int(sealed.eventCount))
            }
            let frameLimit = UInt32(clamping: payloadLimit)
            var splitter = BatchSplitter(limits: WireLimits(
                maxFrameBytes: frameLimit, maxUncompressedBytes: .max, maxEventsPerBatch: .max, maxWindow: .max))
            var messages: [NATSOutboundMessage] = []
            for frame in try splitter.frames(for: sealed, coverage: coverage, sequence: record.sequence) {
                guard let part = OriginCoverage(frame.origin, eventCount: frame.batch.eventCount) else { continue }
                messages.append(NATSBatchMessage.make(frame.batch, coverage: part, host: host, subject: subject))
            }
            return (messages, Int(sealed.eventCount))
        case .events:
            let batch = try decoder.decode(sealed)
            let subject = configuration.subject.subject(host: batch.host)
            var messages: [NATSOutboundMessage] = []
            messages.reserveCapacity(batch.events.count)
            for (event, position) in zip(batch.events, coverage.eventPositions()) {
                var json: [UInt8] = []
                EventFormat.json.append(event, host: batch.host, to: &json)
                if json.last == UInt8(ascii: "\n") { json.removeLast() }
                guard json.count <= payloadLimit else {
                    // One event over the server's max_payload can never be published; waiting would stop the sink.
                    metrics.oversizedEvents.increment()
                    logger.error("JetStream sink: event \(position.index) of batch \(position.unit) of \(coverage.origin) is \(json.count) bytes as JSON, over the server's max_payload; it is not published (raise max_payload, or lower --max-line-bytes)")
                    continue
                }
                messages.append(NATSOutboundMessage(
                    subject: subject,
                    id: "\(coverage.origin):\(position.unit):\(position.index)",
                    headers: [("LogFerry-Host", batch.host), ("LogFerry-Source", event.source), ("Content-Type", "application/json")],
                    payload: json))
            }
            return (messages, batch.events.count)
        }
    }
}
