import Foundation
import LogFerrySpool
import LogFerryWire
import Logging
import ServiceLifecycle
import Metrics

/// How a file sink writes.
public struct FileSinkConfiguration: Sendable {
    /// The output root: events go to `ROOT/<origin host>/<source, made file-safe>.log`.
    public var directory: String
    /// Raw lines or JSON lines.
    public var format: EventFormat
    /// A file is rotated (to `NAME.1`, `NAME.2`, ...) once it reaches this size.
    public var maxFileBytes: UInt64
    /// Files are fsynced and the cursor committed at most this often (and whenever the spool runs dry).
    public var commitInterval: Duration
    /// The spool cursor this sink advances.
    public var cursorName: String
    /// Whether output files stay in the page cache once durable. By default their pages are dropped: a
    /// receiver's output is read back rarely and late, and keeping it evicts what other programs cache.
    public var keepsOutputsCached: Bool
    /// Bodies the node's listener inflated already (``InflatedBatchCache``); nil to inflate every record.
    public var inflatedBatches: InflatedBatchCache?

    /// Creates a configuration.
    public init(
        directory: String,
        format: EventFormat = .raw,
        maxFileBytes: UInt64 = 256 << 20,
        commitInterval: Duration = .milliseconds(200),
        cursorName: String = "file",
        keepsOutputsCached: Bool = false,
        inflatedBatches: InflatedBatchCache? = nil
    ) {
        self.keepsOutputsCached = keepsOutputsCached
        self.inflatedBatches = inflatedBatches
        self.directory = directory
        self.format = format
        self.maxFileBytes = maxFileBytes
        self.commitInterval = commitInterval
        self.cursorName = cursorName
    }
}

/// The file sink: writes every event of the spool to per-host, per-source files, exactly once.
///
/// It commits its cursor together with the lengths of its output files (after fsyncing them). After a
/// crash it cuts every file back to its committed length and replays from the committed cursor, so no
/// line is doubled or missing. Rotation happens only right after a commit, and is recognised on recovery.
public final class FileSink: Service, Sendable {
    let configuration: FileSinkConfiguration
    let spool: Spool
    let logger: Logger
    let eventsOut = Counter(label: "logferry_file_sink_events_total")
    let bytesOut = Counter(label: "logferry_file_sink_bytes_total")
    let quarantined = Counter(label: "logferry_file_sink_quarantined_batches_total")
    let outputErrors = Counter(label: "logferry_file_sink_output_errors_total")
    let duplicates = Counter(label: "logferry_file_sink_duplicate_batches_total")
    let progress = FerrySinkProgress()

    /// Creates a file sink over `spool`.
    public init(configuration: FileSinkConfiguration, spool: Spool, logger: Logger) {
        self.configuration = configuration
        self.spool = spool
        self.logger = logger
    }

    /// The highest spool sequence written and committed.
    public var committed: UInt64 {
        get async { await progress.acknowledged }
    }

    /// Waits until everything up to `sequence` is written and committed.
    func waitUntilCommitted(through sequence: UInt64) async {
        await progress.waitUntil(sequence)
    }

    /// Writes until cancelled; commits what it wrote on the way out. An output error (a full disk, a
    /// permission) does not stop the node: the sink says so, waits, cuts its files back to the committed
    /// lengths and starts again from its committed cursor; the batches wait in the spool meanwhile.
    public func run() async throws {
        while true {
            do {
                try await runUntilCancelled()
                return
            } catch let error as OutputFileError {
                outputErrors.increment()
                logger.error("\(error) Retrying in 5 s.")
                do {
                    try await Task.sleep(for: .seconds(5))
                } catch {
                    return
                }
            }
        }
    }

    private func runUntilCancelled() async throws {
        var writer = try await FileSinkWriter(sink: self)
        await progress.advance(to: writer.committedThrough)
        let reader = spool.makeReader(from: writer.committedThrough + 1)
        var decoder = BatchDecoder(limits: BatchSplitter.localLimits)
        var lastCommit = ContinuousClock.now
        do {
            while true {
                var record = try await reader.nextIfAvailable()
                // Dry. In a steady stream the sink runs dry after nearly every batch, and a commit is three
                // fsyncs and a state-file rename: look again for a moment first, so commits stay at most one per
                // commit interval. Before waiting for good, make what was written durable.
                while record == nil, ContinuousClock.now - lastCommit < configuration.commitInterval {
                    try await Task.sleep(for: .milliseconds(5))
                    record = try await reader.nextIfAvailable()
                }
                if record == nil {
                    try await writer.commit()
                    await progress.advance(to: writer.committedThrough)
                    lastCommit = .now
                    record = try await reader.next()
                }
                guard let record else { break }
                try await writer.write(record, decoder: &decoder)
                if ContinuousClock.now - lastCommit >= configuration.commitInterval {
                    try await writer.commit()
                    await progress.advance(to: writer.committedThrough)
                    lastCommit = .now
                }
            }
        } catch is CancellationError {
            // Shutting down: commit below.
        }
        try await writer.finish()
        await progress.advance(to: writer.committedThrough)
    }
}
