#if canImport(Glibc)
import Glibc
#endif
import Logging

/// A file read up to `offset` whose first bytes were `head` (hashing to `identity.fingerprint`) before it was
/// truncated or rewritten: a copy of it made by copytruncate continues at `offset`.
struct RetiredIncarnation {
    var checkpoint: FileCheckpoint
    /// Empty when this tailer never read them (a checkpointed file truncated while the agent was down).
    var head: [UInt8]
}

/// Copies and compressed files: the first look at a file found without a checkpoint.
///
/// copytruncate copies the live file to a new name (a new inode that a glob like `app.log*` matches) and then
/// truncates the live file. The copy starts with the bytes already read, so it is recognised by the fingerprint
/// of its first ``FileTailerConfiguration/fingerprintBytes`` bytes and continued at the offset the original was
/// read to: nothing is read twice, and the lines written after the last read and before the truncation, which
/// are only in the copy, are read there.
extension FileTailer {
    /// What the first look at a new file decided.
    enum Classification {
        /// Read it from ``TailedFile/readOffset`` (0, or where the file it is a copy of was read to).
        case read
        /// Not yet: its first bytes may be a copy in progress, or the original not truncated yet.
        case wait
        /// Compressed: never read.
        case skip
    }

    /// How many truncated files' last identities are remembered for the copies that may still show up.
    static let retiredLimit = 64

    /// Remembers the identity and offset of a file about to be read again from 0 (truncated or rewritten).
    func retire(_ file: TailedFile) {
        guard Int(file.identity.fingerprintLength) == configuration.fingerprintBytes, file.offset > 0, !file.skipped,
            file.classified
        else { return }
        retired.append(RetiredIncarnation(checkpoint: file.checkpoint, head: file.head))
        if retired.count > Self.retiredLimit { retired.removeFirst(retired.count - Self.retiredLimit) }
    }

    /// Whether `path` is excluded by ``FileTailerConfiguration/excludes``.
    func isExcluded(_ path: String) -> Bool {
        guard !configuration.excludes.isEmpty else { return false }
        let name = path.split(separator: "/").last.map(String.init) ?? path
        return configuration.excludes.contains { pattern in
            fnmatch(pattern, pattern.contains("/") ? path : name, 0) == 0
        }
    }

    /// The first look at a file found without a checkpoint (``TailedFile/classified`` false): compressed, a copy of
    /// a file already read, or new. `size` is its size now; `now` decides when a file that stopped growing is settled.
    func classify(_ file: inout TailedFile, key: FileKey, descriptor: CInt, size: UInt64, now: ContinuousClock.Instant) -> Classification {
        guard size > 0 else { return .wait }
        let full = configuration.fingerprintBytes
        guard case .success(let head) = FileSystem.read(descriptor: descriptor, count: full, at: 0), !head.isEmpty else {
            return .wait
        }
        // Settled: deleted (nothing more will come), or not grown for a rescan interval.
        let settled = file.deleted || now - file.lastGrowth >= configuration.rescanInterval

        switch CompressedFormat.detect(head) {
        case .compressed(let format):
            file.classified = true
            file.skipped = true
            statistics.compressedSkipped += 1
            metrics.compressedSkipped.increment()
            logger.info("skipping compressed file (\(format.rawValue)); compressed rotations are not read, exclude them with --exclude", metadata: [
                "path": "\(file.path)"
            ])
            return .skip
        case .undecided:
            if !settled { return .wait }
        case .plain:
            break
        }

        // The files it may be a copy of: tracked files with a whole fingerprint, and truncated files' last identities.
        var best: (offset: UInt64, live: FileKey?, path: String)?
        var maybeCopyInProgress = false
        func consider(_ identity: FileIdentity, _ candidateHead: [UInt8], offset: UInt64, live: FileKey?, path: String) {
            let length = Int(identity.fingerprintLength)
            guard length == full, offset > 0 else { return }
            if head.count >= length {
                guard FileFingerprint.hash(head) == identity.fingerprint else { return }
                if best == nil || offset > best!.offset { best = (offset, live, path) }
            } else if candidateHead.count >= head.count, candidateHead.starts(with: head) {
                maybeCopyInProgress = true
            }
        }
        for (candidateKey, candidate) in files where candidateKey != key && candidate.classified && !candidate.skipped {
            consider(candidate.identity, candidate.head, offset: candidate.offset, live: candidateKey, path: candidate.path)
        }
        for incarnation in retired {
            consider(
                incarnation.checkpoint.identity, incarnation.head, offset: incarnation.checkpoint.offset, live: nil,
                path: incarnation.checkpoint.path
            )
        }

        guard let source = best else {
            // Fewer bytes than a fingerprint, and they begin a file already read: wait for the rest of the copy.
            if maybeCopyInProgress, !settled { return .wait }
            file.classified = true
            return .read
        }
        var start = min(source.offset, size)
        if let liveKey = source.live, let original = files[liveKey] {
            if holdsItsFingerprint(original, key: liveKey, atLeast: size) {
                // The original still has these bytes (copy made, truncation not yet seen): copytruncate
                // truncates it next, and then the copy continues where the original was read to. Until then the
                // copy waits; a copy that settles while the original is intact (a backup made with cp) has only
                // bytes the original holds too, so it starts at its end.
                if !settled { return .wait }
                start = size
            }
        }
        file.classified = true
        file.offset = start
        file.readOffset = start
        file.identity.fingerprint = FileFingerprint.hash(head)
        file.identity.fingerprintLength = UInt32(head.count)
        file.head = head
        file.lines = LineSplitter(maxLineBytes: configuration.maxLineBytes)
        file.events?.discard()
        if start > 0, case .success(let previous) = FileSystem.read(descriptor: descriptor, count: 1, at: start - 1) {
            file.lines.flushedBeforeNewline = previous.first != UInt8(ascii: "\n")
        }
        statistics.copiesContinued += 1
        metrics.copiesContinued.increment()
        logger.info("file is a copy of a file already read (copytruncate); reading it from where that file was read to", metadata: [
            "path": "\(file.path)", "copyOf": "\(source.path)", "offset": "\(start)",
        ])
        return .read
    }

    /// Whether a tracked file still starts with the bytes its fingerprint covers and has at least `size` bytes
    /// (not truncated since); read through its descriptor, or by its path when it is closed.
    private func holdsItsFingerprint(_ file: TailedFile, key: FileKey, atLeast size: UInt64) -> Bool {
        var descriptor = file.descriptor
        var opened: CInt?
        if descriptor == nil {
            guard case .success(let fd) = FileSystem.openForReading(path: file.path) else { return false }
            opened = fd
            descriptor = fd
        }
        defer { if let opened { FileSystem.close(descriptor: opened) } }
        guard let descriptor, case .success(let status) = FileSystem.status(descriptor: descriptor), status.key == key,
            status.size >= size
        else { return false }
        return matchesFingerprint(file.identity, descriptor: descriptor)
    }
}
