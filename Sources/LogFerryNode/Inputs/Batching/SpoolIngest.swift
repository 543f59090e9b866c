import LogFerrySpool
import LogFerryWire
import Logging
import Metrics

/// Where push sources (stdin, syslog) put their events: batches them under a `BatchPolicy`, seals each
/// batch once (zlib), and appends it to the spool.
///
/// `add` waits while a sealed batch is being appended, so a full spool under `block` pushes back on the
/// source (a syslog TCP peer stops being read). Events not yet sealed live only in memory: a kill -9 loses
/// at most one linger period of them (see Docs/OPERATIONS.md).
///
/// Nothing read is dropped silently on shutdown: a batch whose append is cancelled while it waits for spool
/// space is kept, and ``finish()`` stores it and the open batch, waiting for space up to `shutdownWait`. What
/// still cannot be stored then is counted in `logferry_ingest_lost_events_total{source}` and logged as an error.
public actor SpoolIngest {
    let spool: Spool
    let host: String
    let policy: BatchPolicy
    let kind: String
    let shutdownWait: Duration
    let logger: Logger
    private var assembler: BatchAssembler
    private var encoder: BatchEncoder
    /// Sealed batches whose append was cancelled before they were written (shutdown while the spool was full).
    private var unstored: [(payload: [[UInt8]], events: Int)] = []
    private let eventsIn: Counter
    private let lostEvents: Counter
    private let batchesSealed = Counter(label: "logferry_batches_sealed_total")
    private let droppedBatches = Counter(label: "logferry_ingest_dropped_batches_total")

    /// Creates an ingest for events named by `source` kind (a metric dimension, e.g. "stdin", "syslog").
    /// On shutdown, what was read is stored, waiting up to `shutdownWait` for spool space.
    public init(spool: Spool, host: String, policy: BatchPolicy, kind: String, shutdownWait: Duration = .seconds(10), logger: Logger) {
        self.spool = spool
        self.host = host
        self.policy = policy
        self.kind = kind
        self.shutdownWait = shutdownWait
        self.logger = logger
        self.assembler = BatchAssembler(policy: policy)
        self.encoder = BatchEncoder(level: policy.compressionLevel, compressor: policy.compressor)
        self.eventsIn = Counter(label: "logferry_source_events_total", dimensions: [("source", kind)])
        self.lostEvents = Counter(label: "logferry_ingest_lost_events_total", dimensions: [("source", kind)])
    }

    /// Adds an event; seals and appends the batch when it is full.
    public func add(_ event: Event) async throws {
        assembler.add(event)
        eventsIn.increment()
        if assembler.isFull { try await seal() }
    }

    /// Seals and appends whatever is waiting (end of input).
    public func flush() async throws {
        if !assembler.isEmpty { try await seal() }
    }

    /// Seals batches that have lingered long enough, until cancelled. It does not flush on the way out: the
    /// source calls ``finish()`` once it has stopped reading.
    public func runLingerTimer() async throws {
        while !Task.isCancelled {
            let deadline = assembler.deadline ?? (.now + policy.linger)
            do {
                try await Task.sleep(until: deadline, clock: .continuous)
            } catch {
                return
            }
            if assembler.isDue(at: .now) {
                do {
                    try await seal()
                } catch is CancellationError {
                    // Kept in `unstored` for `finish()`.
                    return
                }
            }
        }
    }

    /// The end of the source (end of input or shutdown): stores every batch read so far — those whose append
    /// was cancelled and the open one — waiting for spool space at most `shutdownWait`, even when the calling
    /// task is cancelled. Lines that still cannot be stored are counted and logged as lost.
    public func finish() async {
        await Task { await self.storeRemaining() }.value
    }

    private func storeRemaining() async {
        if !assembler.isEmpty {
            let batch = assembler.take(host: host)
            do {
                let sealed = try encoder.encode(batch)
                batchesSealed.increment()
                unstored.append((sealed.serializedParts(), batch.events.count))
            } catch {
                lostEvents.increment(by: Int64(batch.events.count))
                logger.error("LOST \(batch.events.count) \(kind) lines on shutdown: cannot seal their batch: \(error)")
            }
        }
        guard !unstored.isEmpty else { return }
        let waiting = unstored.reduce(0) { $0 + $1.events }
        logger.notice("storing \(waiting) \(kind) lines read before shutdown (waiting up to \(shutdownWait) for spool space)")
        let deadline = ContinuousClock.now + shutdownWait
        var failure: (any Error)?
        while let (payload, events) = unstored.first {
            do {
                let result = try await Self.append(payload, to: spool, until: deadline, logger: logger)
                unstored.removeFirst()
                if case .dropped = result {
                    droppedBatches.increment()
                    logger.warning("spool \(spool.configuration.directory) is full (drop-newest): dropped a batch of \(events) events")
                }
            } catch {
                failure = error
                break
            }
        }
        guard !unstored.isEmpty else { return }
        let lost = unstored.reduce(0) { $0 + $1.events }
        unstored.removeAll()
        lostEvents.increment(by: Int64(lost))
        let reason = failure is CancellationError
            ? "the spool \(spool.configuration.directory) stayed full for \(shutdownWait) after shutdown began"
            : "\(failure.map { "\($0)" } ?? "unknown error")"
        logger.error("LOST \(lost) \(kind) lines read before shutdown: \(reason); they are counted in logferry_ingest_lost_events_total")
    }

    /// Appends, waiting for space until `deadline`; a `CancellationError` means the record was not written.
    private static func append(_ payload: [[UInt8]], to spool: Spool, until deadline: ContinuousClock.Instant, logger: Logger) async throws -> SpoolAppendResult {
        try await withThrowingTaskGroup(of: SpoolAppendResult?.self) { group in
            group.addTask { try await spool.appendWaitingForSpace(parts: payload, logger: logger) }
            group.addTask {
                try? await Task.sleep(until: deadline, clock: .continuous)
                return nil
            }
            defer { group.cancelAll() }
            while let next = try await group.next() {
                if let result = next { return result }
                group.cancelAll()
            }
            throw CancellationError()
        }
    }

    private func seal() async throws {
        let batch = assembler.take(host: host)
        let sealed = try encoder.encode(batch)
        batchesSealed.increment()
        let payload = sealed.serializedParts()
        do {
            if case .dropped = try await spool.appendWaitingForSpace(parts: payload, logger: logger) {
                droppedBatches.increment()
                logger.warning("spool \(spool.configuration.directory) is full (drop-newest): dropped a batch of \(batch.events.count) events")
            }
        } catch is CancellationError {
            // Cancelled while waiting for space (the spool writes nothing before it has room): keep the batch
            // for `finish()` instead of losing it.
            unstored.append((payload, batch.events.count))
            throw CancellationError()
        }
    }
}
