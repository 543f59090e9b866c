#if canImport(Glibc)
import Glibc
#endif
import Logging

/// Follows log files by path and glob, pull-based: the agent calls ``poll(maxLines:maxBytes:)`` from one task and
/// stops calling it when its spool is full, so backpressure costs nothing and the data waits in the files.
///
/// ## What it follows
/// - **Rename-and-create rotation.** A file is known by device and inode, not by name: the renamed file keeps its
///   descriptor and is read to its end from its offset, the new file at the old path is read from 0. A file that no
///   longer matches any pattern is forgotten once it has been at its end for ``FileTailerConfiguration/idleCloseAfter``
///   (the writer may still append to it until it reopens its log). A file that is created and renamed away between
///   two scans is never seen when the pattern matches only the live name: include the rotated names in the pattern
///   (`app.log*`) where rotations can come faster than ``FileTailerConfiguration/rescanInterval``.
/// - **Truncation and copytruncate.** A file shorter than the offset, or whose first bytes changed after it had been
///   read to its end, is read again from 0. A new file that starts with the first
///   ``FileTailerConfiguration/fingerprintBytes`` bytes of a file already read (the copy copytruncate makes, under a
///   glob like `app.log*`) is that file's continuation: it is read from the offset the original was read to, so
///   nothing is read twice and the lines written after the last read and before the truncation are read from the
///   copy (`FileTailer+Copies.swift`). Only lines written between the end of the copy and the truncation, which are
///   in neither file, are lost; when the copy is not under the patterns, the lines since the last read are too.
/// - **Compressed files** (gzip, bzip2, xz, zstd, told by their magic bytes) are skipped, counted in
///   `logferry_file_compressed_skipped_total` and logged once; ``FileTailerConfiguration/excludes`` keeps any file out.
/// - **Inode reuse.** The fingerprint of the first bytes (``FileIdentity``) must match before a checkpoint or a
///   closed file's offset is trusted; otherwise the file is new and is read from 0.
/// - **Deleted files** keep their descriptor until read to their end, then are closed and forgotten.
/// - **Unreadable files** are logged once (path, errno text, what to do) and retried at every rescan.
/// - **Many files.** At most ``FileTailerConfiguration/maxOpenFiles`` descriptors are open; files idle at their end
///   are closed and reopened by the rescan that sees them grown.
///
/// ## Lines
/// Each file's bytes are cut into lines by its ``LineSplitter``, as standard input's are. A line ends at `\n`; a `\r`
/// before it is dropped. A line longer than ``FileTailerConfiguration/maxLineBytes`` is cut there and its remainder
/// up to the newline skipped: it is handed out once its newline is seen, with `endOffset` after that newline, so a
/// restart in the middle of a long line re-reads and cuts it again, never ships half of it twice.
/// A last line without a newline ships after ``FileTailerConfiguration/partialLineTimeout`` without growth (at once
/// for a deleted file); later bytes form a new line, and a newline arriving first is dropped as the end of the line
/// that already shipped. The same rule holds across restarts: resuming at an offset whose previous byte is not a
/// newline drops a newline found right there.
///
/// ## Checkpoints
/// ``checkpoints`` lists every tracked file with the offset just after the last line handed out. Stored with the
/// lines (``FileCheckpoint/encode(_:)``) and passed back to ``init(configuration:checkpoints:logger:)`` after a
/// restart, reading resumes exactly after the last stored line. A checkpointed file that was renamed to a name the
/// patterns do not match is found again by its inode in the same directory and read to its end.
///
/// Not thread-safe: use one instance from one task.
final class FileTailer {
    /// The configuration in use.
    let configuration: FileTailerConfiguration
    /// Where the tailer logs what happens to its files.
    let logger: Logger
    /// The swift-metrics instruments.
    let metrics = FileTailerMetrics()
    private let now: () -> ContinuousClock.Instant
    /// inotify on the watched directories; nil in tests, which move the clock by hand.
    let watcher: FileChangeWatcher?
    /// The inotify watch descriptor of each watched directory.
    var watchedDirectories: [String: CInt] = [:]

    /// Every tracked file, open or not, by device and inode.
    var files: [FileKey: TailedFile] = [:]
    /// The tracked files in round-robin order.
    var order: [FileKey] = []
    /// Where the next poll starts in ``order``.
    var nextIndex = 0
    /// Descriptors held open now.
    var openCount = 0
    /// Checkpoints from the previous run not yet matched to a file; consumed by the first scan.
    var pendingCheckpoints: [FileKey: FileCheckpoint]
    /// The paths of the checkpoints given at start: such a file does not start at its end under `startAtEnd`.
    var checkpointedPaths: Set<String>
    /// When the patterns were last evaluated; nil before the first poll.
    var lastRescan: ContinuousClock.Instant?
    /// The last identities and offsets of files read again from 0, newest last: a copy of one of them made by
    /// copytruncate continues at its offset (``classify(_:key:descriptor:size:now:)``).
    var retired: [RetiredIncarnation] = []
    private var scratch: [UInt8]

    /// Running totals, for tests and progress output.
    var statistics = FileTailerStatistics()

    /// Makes a tailer that resumes each file in `checkpoints` at its offset when its identity still matches.
    /// Nothing is opened until the first ``poll(maxLines:maxBytes:)``.
    convenience init(configuration: FileTailerConfiguration, checkpoints: [FileCheckpoint], logger: Logger) {
        self.init(configuration: configuration, checkpoints: checkpoints, logger: logger, useInotify: true) {
            ContinuousClock.now
        }
    }

    /// Testable initialiser: the clock and the use of inotify can be replaced.
    init(
        configuration: FileTailerConfiguration,
        checkpoints: [FileCheckpoint],
        logger: Logger,
        useInotify: Bool,
        clock: @escaping () -> ContinuousClock.Instant
    ) {
        self.configuration = configuration
        self.logger = logger
        self.now = clock
        self.watcher = useInotify ? FileChangeWatcher() : nil
        var pending: [FileKey: FileCheckpoint] = [:]
        for checkpoint in checkpoints { pending[checkpoint.identity.key] = checkpoint }
        self.pendingCheckpoints = pending
        self.checkpointedPaths = Set(checkpoints.map(\.path))
        self.scratch = [UInt8](repeating: 0, count: configuration.readChunkBytes)
    }

    deinit {
        for file in files.values {
            if let fd = file.descriptor { FileSystem.close(descriptor: fd) }
        }
        metrics.filesOpen.record(0)
        metrics.filesTracked.record(0)
        if let watcher {
            for wd in watchedDirectories.values { watcher.unwatch(wd) }
        }
    }

    /// Every tracked file with the offset just after the last line handed out, sorted by path.
    /// Before the first poll this is the list given to the initialiser.
    var checkpoints: [FileCheckpoint] {
        // A file not looked at yet is found again after a restart and looked at then; a compressed one is skipped.
        var result = files.values.filter { $0.classified && !$0.skipped }.map(\.checkpoint)
        if lastRescan == nil { result += pendingCheckpoints.values }
        return result.sorted { ($0.path, $0.identity.inode) < ($1.path, $1.identity.inode) }
    }

    /// Descriptors held open now.
    var openFileCount: Int { openCount }

    /// Returns the complete lines available now, at most `maxLines` of them and about `maxBytes` bytes (one line is
    /// returned even when it alone exceeds `maxBytes`). Never blocks on the files; may return an empty array.
    /// Files are served round-robin, so a busy file cannot starve the others.
    func poll(maxLines: Int, maxBytes: Int) -> [TailedLine] {
        var out: [TailedLine] = []
        poll(maxLines: maxLines, maxBytes: maxBytes) { out.append(TailedLine($0)) }
        return out
    }

    /// ``poll(maxLines:maxBytes:)`` lending each line to `visit` instead of collecting them: the line's bytes are
    /// valid only during the call (they usually point into the read buffer), so a source that encodes lines as
    /// they come allocates nothing per line.
    func poll(maxLines: Int, maxBytes: Int, _ visit: (TailedLineView) -> Void) {
        let now = self.now()
        if let last = lastRescan {
            if now - last >= configuration.rescanInterval { rescan(now: now) }
        } else {
            rescan(now: now)
        }
        var budget = Budget(maxLines: max(1, maxLines), maxBytes: max(1, maxBytes))
        var forgotten: [FileKey] = []
        let count = order.count
        var visited = 0
        while visited < count, !budget.isExhausted {
            let key = order[(nextIndex + visited) % count]
            visited += 1
            if service(key, now: now, budget: &budget, into: visit) == .forget { forgotten.append(key) }
        }
        if count > 0 { nextIndex = (nextIndex + visited) % count }
        for key in forgotten { forget(key, reason: "read to its end and no longer present under the watched patterns") }
        if !forgotten.isEmpty { compactOrder() }
        statistics.linesRead += UInt64(budget.lines)
        statistics.bytesRead += UInt64(budget.bytes)
        metrics.linesRead.increment(by: Int64(budget.lines))
        metrics.bytesRead.increment(by: Int64(budget.bytes))
    }

    /// Returns when a file may have changed (inotify on the watched directories), when the next rescan or
    /// partial-line deadline is due, at `notAfter` when given (a caller's own deadline, e.g. a batch's linger),
    /// or at once when the task is cancelled.
    nonisolated(nonsending) func waitForChange(notAfter: ContinuousClock.Instant? = nil) async {
        let now = self.now()
        var deadline = (lastRescan ?? now) + configuration.rescanInterval
        if let notAfter, notAfter < deadline { deadline = notAfter }
        for file in files.values where file.atEnd && file.hasPartialLine {
            let due = file.lastGrowth + configuration.partialLineTimeout
            if due < deadline { deadline = due }
        }
        for file in files.values where file.atEnd {
            if let due = file.events?.flushDeadline, due < deadline { deadline = due }
        }
        let wait = deadline - now
        guard wait > .zero else { return }
        let (seconds, attoseconds) = wait.components
        let milliseconds = max(1, min(Int64(Int32.max), seconds * 1000 + attoseconds / 1_000_000_000_000_000))
        if let watcher {
            await watcher.wait(timeoutMilliseconds: Int32(milliseconds))
        } else {
            try? await Task.sleep(for: .milliseconds(milliseconds))
        }
    }

    /// Drops the state of a file (closing its descriptor) so that it no longer appears in ``checkpoints``.
    /// The tailer forgets deleted and renamed-away files by itself once they are read; this is for callers that
    /// know better (e.g. a file removed from the configuration). A file that still matches a pattern is found again
    /// at the next rescan and read from 0.
    func forget(identity: FileIdentity) {
        guard files[identity.key] != nil else { return }
        forget(identity.key, reason: "forgotten on request")
        compactOrder()
    }

    // MARK: - Reading

    private struct Budget {
        let maxLines: Int
        let maxBytes: Int
        var bytes = 0
        var lines = 0

        var isExhausted: Bool { lines >= maxLines || bytes >= maxBytes }

        /// Whether a line of `length` bytes may still be handed out.
        func admits(length: Int) -> Bool {
            lines < maxLines && (lines == 0 || bytes + length <= maxBytes)
        }

        /// Counts a line of `length` bytes handed out.
        mutating func take(length: Int) {
            lines += 1
            bytes += length
        }
    }

    private enum Disposition { case keep, forget }

    /// Reads what is available from one file into `out`.
    private func service(
        _ key: FileKey,
        now: ContinuousClock.Instant,
        budget: inout Budget,
        into out: (TailedLineView) -> Void
    ) -> Disposition {
        guard var file = files[key] else { return .keep }
        defer { files[key] = file }
        if file.descriptor == nil {
            guard file.wantsOpen else { return .keep }
            switch open(&file, key: key, now: now) {
            case .opened: break
            case .notNow: return .keep
            case .forget: return .forget
            }
        }
        guard let fd = file.descriptor else { return .keep }
        let status: FileSystem.Status
        switch FileSystem.status(descriptor: fd) {
        case .success(let s): status = s
        case .failure(let error):
            logger.warning("cannot stat tailed file; closing it and retrying at the next rescan", metadata: [
                "path": "\(file.path)", "error": "\(error)",
            ])
            close(&file)
            return .keep
        }
        file.deleted = status.linkCount == 0
        if status.size != file.lastSize {
            file.lastSize = status.size
            file.lastGrowth = now
        }
        var holding = false
        if !file.classified {
            switch classify(&file, key: key, descriptor: fd, size: status.size, now: now) {
            case .read: break
            case .wait: holding = true
            case .skip:
                close(&file)
                return .keep
            }
        }
        if holding {
            // Not read until its first bytes tell what it is.
        } else if status.size < file.readOffset {
            restart(&file, descriptor: fd, reason: "it is shorter than the read offset (truncated or copytruncated)")
        } else if status.size > file.readOffset, file.atEnd, !matchesFingerprint(file.identity, descriptor: fd) {
            restart(&file, descriptor: fd, reason: "its first bytes changed (copytruncated and rewritten)")
        }
        file.atEnd = false

        var stoppedByBudget = false
        if holding { file.atEnd = true }
        while !holding, !budget.isExhausted {
            if file.readOffset >= status.size {
                file.atEnd = true
                break
            }
            let chunkOffset = file.readOffset
            let readResult = scratch.withUnsafeMutableBytes {
                FileSystem.read(descriptor: fd, into: $0, at: chunkOffset)
            }
            let count: Int
            switch readResult {
            case .success(let n): count = n
            case .failure(let error):
                metrics.readErrors.increment()
                logger.warning("cannot read tailed file; closing it and retrying at the next rescan", metadata: [
                    "path": "\(file.path)", "offset": "\(chunkOffset)", "error": "\(error)",
                ])
                close(&file)
                return .keep
            }
            if count == 0 {
                file.atEnd = true
                break
            }
            let consumed = scratch.withUnsafeBytes { raw in
                consume(UnsafeRawBufferPointer(rebasing: raw[0..<count]), at: chunkOffset, file: &file, now: now, budget: &budget, into: out)
            }
            file.readOffset = chunkOffset + UInt64(consumed)
            if consumed < count {
                stoppedByBudget = true
                break
            }
        }

        if file.atEnd, !stoppedByBudget, file.hasPartialLine,
            file.deleted || now - file.lastGrowth >= configuration.partialLineTimeout,
            budget.admits(length: file.lines.unfinishedLineLength)
        {
            emitPartialLine(&file, now: now, budget: &budget, into: out)
        }

        if file.atEnd, !stoppedByBudget, !file.hasPartialLine, let due = file.events?.flushDeadline,
            file.deleted || now >= due,
            budget.admits(length: file.events?.pendingBytes ?? 0)
        {
            emitPendingEvent(&file, budget: &budget, into: out)
        }

        if !holding, Int(file.identity.fingerprintLength) < configuration.fingerprintBytes,
            status.size > UInt64(file.identity.fingerprintLength)
        {
            takeFingerprint(&file, descriptor: fd)
        }

        guard file.atEnd, !file.hasPartialLine, !file.hasPendingEvent else { return .keep }
        if file.deleted {
            close(&file)
            return .forget
        }
        let idle = now - file.lastGrowth
        if !file.matched, idle >= configuration.idleCloseAfter {
            close(&file)
            return .forget
        }
        if idle >= configuration.idleCloseAfter || openCount >= configuration.maxOpenFiles {
            close(&file)
        }
        return .keep
    }

    /// Splits `chunk` (the file's bytes at `chunkOffset`) into lines with the file's ``LineSplitter``; returns how
    /// many bytes were consumed (fewer than the chunk when the budget ran out: the rest is read again next time).
    private func consume(
        _ chunk: UnsafeRawBufferPointer,
        at chunkOffset: UInt64,
        file: inout TailedFile,
        now: ContinuousClock.Instant,
        budget: inout Budget,
        into out: (TailedLineView) -> Void
    ) -> Int {
        let path = file.path
        let identity = file.identity
        guard var events = file.events else {
            let consumed = file.lines.feedBorrowing(chunk) { line, cut, end in
                guard budget.admits(length: line.count) else { return false }
                let endOffset = chunkOffset + UInt64(end)
                emit(line, truncated: cut, endOffset: endOffset, path: path, identity: identity, budget: &budget, into: out)
                return true
            }
            // Just after the last line handed out (or newline dropped): what the splitter still holds is not shipped.
            file.offset = chunkOffset + UInt64(consumed) - UInt64(file.lines.heldBytes)
            return consumed
        }
        // Multi-line: each line joins the unfinished event or seals it; the checkpoint stays at the start of the
        // unfinished event, so a restart reads it again whole.
        var lineStart = chunkOffset - UInt64(file.lines.heldBytes)
        let consumed = file.lines.feed(chunk) { line, cut, end in
            let endOffset = chunkOffset + UInt64(end)
            let sealing = line.withUnsafeBytes { events.seals($0) }
            if sealing, !budget.admits(length: events.pendingBytes) { return false }
            if cut { countTruncatedLine() }
            if let event = events.add(line, start: lineStart, end: endOffset, truncated: cut, at: now, sealing: sealing) {
                emit(event, path: path, identity: identity, budget: &budget, into: out)
            }
            lineStart = endOffset
            return true
        }
        file.events = events
        file.offset = events.pendingStart ?? (chunkOffset + UInt64(consumed) - UInt64(file.lines.heldBytes))
        return consumed
    }

    private func countTruncatedLine() {
        statistics.linesTruncated += 1
        metrics.linesTruncated.increment()
    }

    /// Hands out a sealed multi-line event.
    private func emit(
        _ event: MultilineAssembler.Event,
        path: String,
        identity: FileIdentity,
        budget: inout Budget,
        into out: (TailedLineView) -> Void
    ) {
        statistics.multilineEvents += 1
        metrics.multilineEvents.increment()
        if event.cutAtMaxBytes {
            statistics.multilineCut += 1
            metrics.multilineCut.increment()
            logger.warning(
                "multi-line event cut at --multiline-max-bytes; the rest of its lines were read and dropped. If this repeats, check that --multiline-start / --multiline-continue fit this file's format",
                metadata: ["path": "\(path)", "endOffset": "\(event.endOffset)"]
            )
        }
        budget.take(length: event.bytes.count)
        event.bytes.withUnsafeBytes {
            out(TailedLineView(path: path, line: $0, identity: identity, endOffset: event.endOffset, truncated: event.truncated))
        }
    }

    /// Hands out the unfinished multi-line event (its flush timeout passed, or the file is deleted).
    private func emitPendingEvent(_ file: inout TailedFile, budget: inout Budget, into out: (TailedLineView) -> Void) {
        guard let event = file.events?.flush() else { return }
        statistics.multilineFlushed += 1
        metrics.multilineFlushed.increment()
        emit(event, path: file.path, identity: file.identity, budget: &budget, into: out)
        file.offset = file.readOffset - UInt64(file.lines.heldBytes)
    }

    private func emit(
        _ bytes: UnsafeRawBufferPointer,
        truncated: Bool,
        endOffset: UInt64,
        path: String,
        identity: FileIdentity,
        budget: inout Budget,
        into out: (TailedLineView) -> Void
    ) {
        if truncated { countTruncatedLine() }
        budget.take(length: bytes.count)
        out(TailedLineView(path: path, line: bytes, identity: identity, endOffset: endOffset, truncated: truncated))
    }

    private func emitPartialLine(
        _ file: inout TailedFile,
        now: ContinuousClock.Instant,
        budget: inout Budget,
        into out: (TailedLineView) -> Void
    ) {
        let start = file.readOffset - UInt64(file.lines.heldBytes)
        guard let (bytes, cut) = file.lines.flush() else { return }
        statistics.partialLines += 1
        metrics.partialLines.increment()
        if var events = file.events {
            // The last line joins (or starts) an event like any other; the event waits for its own timeout.
            if cut { countTruncatedLine() }
            if let event = events.add(bytes, start: start, end: file.readOffset, truncated: cut, at: now) {
                emit(event, path: file.path, identity: file.identity, budget: &budget, into: out)
            }
            file.events = events
            file.offset = events.pendingStart ?? file.readOffset
            return
        }
        bytes.withUnsafeBytes {
            emit($0, truncated: cut, endOffset: file.readOffset, path: file.path, identity: file.identity,
                 budget: &budget, into: out)
        }
        file.offset = file.readOffset
    }
}

@available(*, unavailable)
extension FileTailer: Sendable {}
