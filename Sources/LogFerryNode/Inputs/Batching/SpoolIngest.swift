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
public actor SpoolIngest {
    let spool: Spool
    let host: String
    let policy: BatchPolicy
    let logger: Logger
    private var assembler: BatchAssembler
    private var encoder: BatchEncoder
    private let eventsIn: Counter
    private let batchesSealed = Counter(label: "logferry_batches_sealed_total")
    private let droppedBatches = Counter(label: "logferry_ingest_dropped_batches_total")

    /// Creates an ingest for events named by `source` kind (a metric dimension, e.g. "stdin", "syslog").
    public init(spool: Spool, host: String, policy: BatchPolicy, kind: String, logger: Logger) {
        self.spool = spool
        self.host = host
        self.policy = policy
        self.logger = logger
        self.assembler = BatchAssembler(policy: policy)
        self.encoder = BatchEncoder(level: policy.compressionLevel)
        self.eventsIn = Counter(label: "logferry_source_events_total", dimensions: [("source", kind)])
    }

    /// Adds an event; seals and appends the batch when it is full.
    func add(_ event: Event) async throws {
        assembler.add(event)
        eventsIn.increment()
        if assembler.isFull { try await seal() }
    }

    /// Seals and appends whatever is waiting (end of input, shutdown).
    func flush() async throws {
        if !assembler.isEmpty { try await seal() }
    }

    /// Seals batches that have lingered long enough, until cancelled; flushes on the way out.
    func runLingerTimer() async throws {
        while !Task.isCancelled {
            let deadline = assembler.deadline ?? (.now + policy.linger)
            do {
                try await Task.sleep(until: deadline, clock: .continuous)
            } catch {
                break
            }
            if assembler.isDue(at: .now) { try await seal() }
        }
        try await flush()
    }

    private func seal() async throws {
        let batch = assembler.take(host: host)
        let sealed = try encoder.encode(batch)
        batchesSealed.increment()
        if case .dropped = try await spool.appendWaitingForSpace(sealed.serialized(), logger: logger) {
            droppedBatches.increment()
            logger.warning("spool \(spool.configuration.directory) is full (drop-newest): dropped a batch of \(batch.events.count) events")
        }
    }
}
