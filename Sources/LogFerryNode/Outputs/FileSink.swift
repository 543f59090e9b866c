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

    /// Creates a configuration.
    public init(
        directory: String,
        format: EventFormat = .raw,
        maxFileBytes: UInt64 = 256 << 20,
        commitInterval: Duration = .milliseconds(200),
        cursorName: String = "file"
    ) {
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
    public func waitUntilCommitted(through sequence: UInt64) async {
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
                if record == nil {
                    // Dry: make what we wrote durable before waiting.
                    try await writer.commit()
                    await progress.advance(to: writer.committedThrough)
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

/// The mutable half of a file sink, owned by its run loop.
struct FileSinkWriter {
    let sink: FileSink
    private var committedState: FileSinkState
    private var liveState: FileSinkState
    private(set) var committedThrough: UInt64
    private var writtenThrough: UInt64
    private var open: [String: OutputFile] = [:]
    private var buffers: [String: [UInt8]] = [:]
    private let root: String

    /// At most this many output files stay open; the least recently used is synced and closed.
    static let maxOpenFiles = 256

    init(sink: FileSink) async throws {
        self.sink = sink
        self.root = sink.configuration.directory
        let position = try await sink.spool.cursor(named: sink.configuration.cursorName)
        let state = try FileSinkState(decoding: position.state)
        self.committedState = state
        self.liveState = state
        self.committedThrough = position.committed
        self.writtenThrough = position.committed
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try await recover()
    }

    /// Cuts every output file back to its committed length, finishing or undoing a rotation cut short.
    private mutating func recover() async throws {
        var changed = false
        for (relative, entry) in committedState.files {
            let path = root + "/" + relative
            let rotated = path + ".\(entry.generation + 1)"
            if OutputFile.size(of: rotated) != nil {
                // Rotated after the last commit: the current file holds only uncommitted lines.
                try OutputFile.truncate(path, to: 0)
                committedState.files[relative] = .init(generation: entry.generation + 1, length: 0)
                changed = true
                sink.logger.info("file sink: finished an interrupted rotation of \(path)")
            } else if let size = OutputFile.size(of: path), size > entry.length {
                try OutputFile.truncate(path, to: entry.length)
                sink.logger.info("file sink: cut \(path) back from \(size) to its committed \(entry.length) bytes")
            }
        }
        liveState = committedState
        if changed {
            try await sink.spool.commit(cursor: sink.configuration.cursorName, through: committedThrough, state: committedState.encoded())
        }
    }

    /// Writes the events of one spool record to their files (not yet durable).
    mutating func write(_ record: SpoolRecord, decoder: inout BatchDecoder) async throws {
        var batch: Batch
        let coverage: OriginCoverage
        do {
            let sealed = try SealedBatch(serialized: record.payload)
            batch = try decoder.decode(sealed)
            coverage = OriginCoverage.of(
                sequence: record.sequence, metadata: try RecordMetadata(decoding: record.metadata),
                eventCount: sealed.eventCount, spoolID: sink.spool.id)
        } catch {
            sink.quarantined.increment()
            sink.logger.error("file sink: spool record \(record.sequence) does not decode (\(error)); skipping it")
            writtenThrough = record.sequence
            return
        }
        // Exactly once by origin: a batch that reached the spool twice is written once.
        switch liveState.ledger.missing(coverage) {
        case .nothing:
            sink.duplicates.increment()
            writtenThrough = record.sequence
            return
        case .everything:
            break
        case .some(let pieces):
            let keep = OriginCoverage.grouping(pieces, origin: coverage.origin)
            var kept: [Event] = []
            for part in keep { kept += OriginTrimmer.select(batch.events, of: coverage, within: part) }
            batch.events = kept
        }
        liveState.ledger.insert(coverage, now: ListenerState.now())
        let format = sink.configuration.format
        let hostDirectory = Self.fileSafe(batch.host)
        for event in batch.events {
            let relative = hostDirectory + "/" + Self.outputName(event.source)
            format.append(event, host: batch.host, to: &buffers[relative, default: []])
        }
        var newFiles = false
        for relative in buffers.keys where liveState.files[relative] == nil {
            // A new file is committed at length 0 before anything is written to it, so recovery knows it.
            committedState.files[relative] = .init(generation: 0, length: 0)
            liveState.files[relative] = .init(generation: 0, length: 0)
            newFiles = true
        }
        if newFiles {
            try await sink.spool.commit(cursor: sink.configuration.cursorName, through: committedThrough, state: committedState.encoded())
        }
        for (relative, bytes) in buffers where !bytes.isEmpty {
            try file(relative).write(bytes)
            liveState.files[relative, default: .init(generation: 0, length: 0)].length += UInt64(bytes.count)
            sink.bytesOut.increment(by: Int64(bytes.count))
        }
        sink.eventsOut.increment(by: Int64(batch.events.count))
        buffers.removeAll(keepingCapacity: true)
        writtenThrough = record.sequence
    }

    /// Makes the written lines durable and commits the cursor with the file lengths; rotates big files.
    mutating func commit() async throws {
        guard writtenThrough > committedThrough else { return }
        for file in open.values { try file.sync() }
        try await sink.spool.commit(cursor: sink.configuration.cursorName, through: writtenThrough, state: liveState.encoded())
        committedState = liveState
        committedThrough = writtenThrough
        try await rotateBigFiles()
    }

    private mutating func rotateBigFiles() async throws {
        var rotated = false
        for (relative, entry) in liveState.files where entry.length >= sink.configuration.maxFileBytes {
            let path = root + "/" + relative
            try open.removeValue(forKey: relative)?.close()
            let target = path + ".\(entry.generation + 1)"
            guard rename(path, target) == 0 else {
                throw OutputFileError(path: path, operation: "rotate (rename to \(target))", errno: errno)
            }
            try OutputFile.syncDirectory((path as NSString).deletingLastPathComponent)
            liveState.files[relative] = .init(generation: entry.generation + 1, length: 0)
            rotated = true
        }
        if rotated {
            try await sink.spool.commit(cursor: sink.configuration.cursorName, through: committedThrough, state: liveState.encoded())
            committedState = liveState
        }
    }

    /// Commits and closes every file.
    mutating func finish() async throws {
        try await commit()
        for file in open.values { try file.close() }
        open.removeAll()
    }

    private mutating func file(_ relative: String) throws -> OutputFile {
        if let file = open[relative] { return file }
        if open.count >= Self.maxOpenFiles, let victim = open.keys.first {
            try open.removeValue(forKey: victim)?.close()
        }
        let file = try OutputFile(path: root + "/" + relative)
        open[relative] = file
        return file
    }

    /// The output file name for a source: its file-safe name with `.log` (not doubled).
    static func outputName(_ source: String) -> String {
        let safe = fileSafe(source)
        return safe.hasSuffix(".log") ? safe : safe + ".log"
    }

    /// A host or source name as one safe path component: `/` and anything outside `[A-Za-z0-9._-]` become
    /// `_`, leading dots and underscores are dropped (no hidden files, no `..`), and the length is capped.
    static func fileSafe(_ name: String) -> String {
        var out = ""
        for scalar in name.unicodeScalars {
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", ".", "-", "_": out.unicodeScalars.append(scalar)
            default: out.append("_")
            }
        }
        while let first = out.first, first == "." || first == "_" { out.removeFirst() }
        if out.isEmpty { out = "unnamed" }
        return String(out.prefix(200))
    }
}
