import Foundation
import LogFerrySpool
import LogFerryWire

/// The mutable half of a file sink, owned by its run loop.
///
/// Its committed state — every output file's rotation generation and length, and per origin what has been
/// written — lives in a state file **next to the output files** (`OUT/.logferry/file-sink.state`), written
/// after the files are fsynced and before the spool cursor moves. So the state always describes these very
/// files: a wiped or restored spool cannot make the sink cut bytes it did not write, and re-reading spool
/// records it already wrote is harmless (the origin ledger skips them). A file it has no state for is adopted
/// as it is.
struct FileSinkWriter {
    let sink: FileSink
    private var committedState: FileSinkState
    private var liveState: FileSinkState
    private(set) var committedThrough: UInt64
    private var writtenThrough: UInt64
    private var open: [String: OutputFile] = [:]
    /// When each open file was last written, by a counter of batches, to close the least recently used.
    private var lastUse: [String: UInt64] = [:]
    private var useClock: UInt64 = 0
    /// The current batch's output, one buffer per file, in order of first use.
    private var outputs: [(relative: String, bytes: [UInt8])] = []
    private var formatter: EventFormatter
    /// Output file names of sources seen, so the file-safe name is computed once per source. Keyed by the
    /// UTF-8 bytes, like ``hostDirectories``.
    private var sourceFileNames: [[UInt8]: String] = [:]
    /// Keyed by the UTF-8 bytes: Swift string equality would merge canonically equivalent host names.
    private var hostDirectories: [[UInt8]: String] = [:]
    private let root: String
    private let statePath: String

    /// At most this many output files stay open; the least recently used is synced and closed. Sized for a
    /// receiver of a thousand hosts (the listener raises its descriptor limit at start): past it, every batch
    /// of a new host would cost another file's fsync and close.
    static let maxOpenFiles = 1024
    /// The directory inside the output root that holds the sink's state (never an output host directory:
    /// host directory names never start with a dot).
    static let stateDirectory = ".logferry"

    init(sink: FileSink) async throws {
        self.sink = sink
        self.root = sink.configuration.directory
        self.statePath = root + "/" + Self.stateDirectory + "/file-sink-\(sink.configuration.cursorName).state"
        try OutputFile.makeDirectory(root + "/" + Self.stateDirectory)
        let position = try await sink.spool.cursor(named: sink.configuration.cursorName)
        var state: FileSinkState
        switch DurableStateFile.read(statePath) {
        case .body(let body):
            state = try FileSinkState(decoding: body)
        case .corrupt(let reason):
            // Refuse to guess: cutting files from a damaged state could lose lines.
            throw OutputFileError(path: statePath, operation: "read its state (\(reason)); move it away to adopt the files as they are", errno: EIO)
        case .missing:
            // A sink from before the state moved here keeps it in its cursor.
            state = try FileSinkState(decoding: position.state)
        }
        self.committedState = state
        self.liveState = state
        self.formatter = EventFormatter(format: sink.configuration.format)
        self.committedThrough = position.committed
        self.writtenThrough = position.committed
        try recover()
    }

    /// Cuts every output file back to its committed length (bytes this sink wrote after its last commit),
    /// finishing or undoing a rotation cut short; a file now shorter than its committed length was changed
    /// by someone else and is adopted as it is.
    private mutating func recover() throws {
        var changed = false
        for (relative, entry) in committedState.files {
            let path = root + "/" + relative
            let size = OutputFile.size(of: path)
            if let target = entry.rotatingTo {
                if OutputFile.size(of: path + ".\(target)") != nil {
                    // Renamed after the last commit: the current file holds only uncommitted lines.
                    try OutputFile.truncate(path, to: 0)
                    committedState.files[relative] = .init(generation: target, length: 0)
                    sink.logger.info("file sink: finished an interrupted rotation of \(path) to \(path).\(target)")
                } else {
                    committedState.files[relative]?.rotatingTo = nil
                    if let size, size > entry.length { try OutputFile.truncate(path, to: entry.length) }
                }
                changed = true
            } else if let size, size > entry.length {
                try OutputFile.truncate(path, to: entry.length)
                sink.logger.info("file sink: cut \(path) back from \(size) to its committed \(entry.length) bytes")
            } else if (size ?? 0) < entry.length {
                sink.logger.warning("file sink: \(path) is shorter (\(size ?? 0) bytes) than this sink wrote (\(entry.length)); someone else changed it; adopting it as it is")
                committedState.files[relative] = .init(generation: entry.generation, length: size ?? 0)
                changed = true
            }
        }
        liveState = committedState
        if changed { try saveState(committedState) }
    }

    /// Writes the events of one spool record to their files (not yet durable), skipping what was written before.
    ///
    /// The common case, a batch wholly new, is formatted straight from the inflate buffer into one buffer per
    /// output file and written with one `write` per file; only a batch that is partly a duplicate is decoded
    /// into events to be trimmed.
    mutating func write(_ record: SpoolRecord, decoder: inout BatchDecoder) async throws {
        // The header alone until the compressed bytes are needed: a body the listener inflated does without them.
        let header: SealedBatch.Header
        let coverage: OriginCoverage
        do {
            header = try SealedBatch.Header(serialized: record.payload)
            coverage = OriginCoverage.of(
                sequence: record.sequence, metadata: try RecordMetadata(decoding: record.metadata),
                eventCount: header.eventCount, spoolID: sink.spool.id)
        } catch {
            quarantine(record, error)
            return
        }
        // Exactly once by origin: a batch that reached the spool twice, or a record read again, is written once.
        let events: Int
        do {
            switch liveState.ledger.missing(coverage) {
            case .nothing:
                sink.duplicates.increment()
                writtenThrough = record.sequence
                return
            case .everything:
                events = try format(
                    record.payload, header: header, inflated: sink.configuration.inflatedBatches?.take(record.sequence),
                    decoder: &decoder)
            case .some(let pieces):
                var batch = try decoder.decode(SealedBatch(serialized: record.payload))
                var kept: [Event] = []
                for part in OriginCoverage.grouping(pieces, origin: coverage.origin) {
                    kept += OriginTrimmer.select(batch.events, of: coverage, within: part)
                }
                batch.events = kept
                events = format(batch)
            }
        } catch {
            outputs.removeAll(keepingCapacity: true)
            quarantine(record, error)
            return
        }
        liveState.ledger.insert(coverage, now: ListenerState.now())
        let newFiles = outputs.indices.map { outputs[$0].relative }.filter { liveState.files[$0] == nil }
        if !newFiles.isEmpty {
            // A file is in the committed state before its first byte is written, so recovery cuts back
            // what is written after, and keeps what was there.
            for relative in newFiles { adopt(relative) }
            for relative in newFiles { committedState.files[relative] = liveState.files[relative] }
            try saveState(committedState)
        }
        for index in outputs.indices where !outputs[index].bytes.isEmpty {
            let relative = outputs[index].relative
            try file(relative).write(outputs[index].bytes)
            let count = outputs[index].bytes.count
            liveState.files[relative, default: .init(generation: 0, length: 0)].length += UInt64(count)
            sink.bytesOut.increment(by: Int64(count))
        }
        sink.eventsOut.increment(by: Int64(events))
        outputs.removeAll(keepingCapacity: true)
        writtenThrough = record.sequence
    }

    private mutating func quarantine(_ record: SpoolRecord, _ error: any Error) {
        sink.quarantined.increment()
        sink.logger.error("file sink: spool record \(record.sequence) does not decode (\(error)); skipping it")
        writtenThrough = record.sequence
    }

    /// Formats every event of the sealed batch in `payload` into ``outputs``, from `inflated` when it is that
    /// batch's body (the compressed bytes are then never copied out of the payload), else from the decoder's
    /// buffer; returns the event count.
    private mutating func format(
        _ payload: [UInt8], header: SealedBatch.Header, inflated: InflatedBatch?, decoder: inout BatchDecoder
    ) throws -> Int {
        let json = formatter.format == .json
        var host: [UInt8] = []
        var slots: [Int] = []
        var sourceNames: [[UInt8]] = []
        var count = 0
        func tables(_ tables: BatchTables) {
            let directory = hostDirectory(tables.host)
            if json { host = EventFormatter.jsonString(tables.host) }
            slots = tables.sources.map { outputSlot(directory + "/" + outputName($0)) }
            if json { sourceNames = tables.sources.map(EventFormatter.jsonString) }
        }
        func event(_ event: EventView) {
            let slot = slots[event.sourceIndex]
            formatter.append(
                line: event.line, timestamp: event.timestamp, fields: event.fields,
                host: host, source: json ? sourceNames[event.sourceIndex] : [], to: &outputs[slot].bytes)
            count += 1
        }
        if let inflated, inflated.belongs(to: header) {
            try decoder.scan(inflated, fields: json, tables: tables, event: event)
        } else {
            try decoder.scan(SealedBatch(serialized: payload), fields: json, tables: tables, event: event)
        }
        return count
    }

    /// Formats the events of a decoded (trimmed) batch into ``outputs``; returns the event count.
    private mutating func format(_ batch: Batch) -> Int {
        let directory = hostDirectory(batch.host)
        let host = EventFormatter.jsonString(batch.host)
        for event in batch.events {
            let slot = outputSlot(directory + "/" + outputName(event.source))
            event.line.withUnsafeBytes { line in
                formatter.append(
                    line: line, timestamp: event.timestamp, fields: event.fields,
                    host: host, source: EventFormatter.jsonString(event.source), to: &outputs[slot].bytes)
            }
        }
        return batch.events.count
    }

    /// The index in ``outputs`` of the buffer for the file `relative`, added when missing. A batch has a
    /// few sources, so a linear search beats hashing; two sources with one file share one buffer, in order.
    private mutating func outputSlot(_ relative: String) -> Int {
        if let index = outputs.firstIndex(where: { $0.relative == relative }) { return index }
        outputs.append((relative, []))
        return outputs.count - 1
    }

    /// Takes over a file this sink has no state for: its current bytes are kept (committed with the next
    /// commit) and its rotations continue after the highest `NAME.k` already present.
    private mutating func adopt(_ relative: String) {
        let path = root + "/" + relative
        let length = OutputFile.size(of: path) ?? 0
        let generation = OutputFile.highestRotation(of: path)
        if length > 0 || generation > 0 {
            sink.logger.info("file sink: adopting \(path) as it is (\(length) bytes, \(generation) rotation(s)); new lines are appended")
        }
        liveState.files[relative] = .init(generation: generation, length: length)
    }

    /// Makes the written lines durable, then the state next to them, then the spool cursor; rotates big files.
    mutating func commit() async throws {
        guard writtenThrough > committedThrough else { return }
        try OutputFile.sync(open.values)
        try saveState(liveState)
        committedState = liveState
        try await sink.spool.commit(cursor: sink.configuration.cursorName, through: writtenThrough)
        committedThrough = writtenThrough
        try rotateBigFiles()
    }

    private func saveState(_ state: FileSinkState) throws {
        do {
            try DurableStateFile.write(state.encoded(), to: statePath)
        } catch {
            throw OutputFileError(path: statePath, operation: "write its state (\(error))", errno: EIO)
        }
    }

    private mutating func rotateBigFiles() throws {
        for (relative, entry) in liveState.files where entry.length >= sink.configuration.maxFileBytes {
            let path = root + "/" + relative
            try open.removeValue(forKey: relative)?.close()
            // Never overwrite an existing NAME.k: take the next free number. The target is saved before the
            // rename, so recovery can tell its own interrupted rotation from someone else's file.
            var next = entry.generation + 1
            while OutputFile.size(of: path + ".\(next)") != nil { next += 1 }
            liveState.files[relative]?.rotatingTo = next
            try saveState(liveState)
            let target = path + ".\(next)"
            guard rename(path, target) == 0 else {
                throw OutputFileError(path: path, operation: "rotate (rename to \(target))", errno: errno)
            }
            try OutputFile.syncDirectory((path as NSString).deletingLastPathComponent)
            liveState.files[relative] = .init(generation: next, length: 0)
            try saveState(liveState)
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
        useClock += 1
        lastUse[relative] = useClock
        if let file = open[relative] { return file }
        if open.count >= Self.maxOpenFiles,
           let victim = open.keys.min(by: { (lastUse[$0] ?? 0) < (lastUse[$1] ?? 0) }) {
            lastUse[victim] = nil
            try open.removeValue(forKey: victim)?.close()
        }
        let file = try OutputFile(path: root + "/" + relative, keepsPagesCached: sink.configuration.keepsOutputsCached)
        open[relative] = file
        return file
    }

    /// The host directory for `host`, computed once per host.
    private mutating func hostDirectory(_ host: String) -> String {
        let key = Array(host.utf8)
        if let known = hostDirectories[key] { return known }
        let name = OutputName.component(host)
        hostDirectories[key] = name
        return name
    }

    /// The output file name for a source, computed once per source name.
    private mutating func outputName(_ source: String) -> String {
        let key = Array(source.utf8)
        if let known = sourceFileNames[key] { return known }
        // Bounded like the open files: a sink fed ever-new source names must not grow without end.
        if sourceFileNames.count >= 4096 { sourceFileNames.removeAll(keepingCapacity: true) }
        let name = Self.outputName(source)
        sourceFileNames[key] = name
        return name
    }

    /// The output file name for a source: its path-safe name with `.log` (not doubled).
    static func outputName(_ source: String) -> String {
        let safe = OutputName.source(source)
        return safe.hasSuffix(".log") ? safe : safe + ".log"
    }
}
