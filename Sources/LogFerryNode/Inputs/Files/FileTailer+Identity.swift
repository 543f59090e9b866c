#if canImport(Glibc)
import Glibc
#endif
import Logging

/// File identity: opening and closing descriptors, device and inode, fingerprints of the first bytes, and the
/// detection of truncation, copytruncate and inode reuse.
extension FileTailer {
    /// What ``open(_:key:now:)`` made of a file.
    enum OpenOutcome {
        /// The descriptor is open and the file's identity checked.
        case opened
        /// Not now: no free descriptor slot, or the file cannot be opened at the moment; retried later.
        case notNow
        /// The file is not the one tracked under this key any more and matches no pattern: drop it.
        case forget
    }

    /// Opens a tracked file, checks that the name still leads to the same device and inode, and, for an offset
    /// that came from a checkpoint or from before a close, that its first bytes still match the fingerprint
    /// (otherwise the inode was reused or the file truncated, and it is read from 0).
    func open(_ file: inout TailedFile, key: FileKey, now: ContinuousClock.Instant) -> OpenOutcome {
        guard openCount < configuration.maxOpenFiles else { return .notNow }
        let fd: CInt
        switch FileSystem.openForReading(path: file.path) {
        case .success(let d): fd = d
        case .failure(let error):
            statistics.openErrors += 1
            metrics.openErrors.increment()
            file.wantsOpen = false
            if error.code == ENOENT {
                // Gone between the scan and the open: the next scan forgets it or finds it under its new name.
                file.matched = false
                return .notNow
            }
            if file.reportedOpenError != error {
                file.reportedOpenError = error
                logger.warning(
                    "cannot open log file: \(error). Fix its permissions (the agent's user needs read access) or remove it from the patterns; retrying at every rescan",
                    metadata: ["path": "\(file.path)"]
                )
            }
            return .notNow
        }
        guard case .success(let status) = FileSystem.status(descriptor: fd), status.key == key else {
            // The name now points to another file; the next scan sorts it out.
            FileSystem.close(descriptor: fd)
            file.wantsOpen = false
            return file.matched ? .notNow : .forget
        }
        if file.reportedOpenError != nil {
            file.reportedOpenError = nil
            logger.info("log file is readable again", metadata: ["path": "\(file.path)"])
        }
        file.descriptor = fd
        openCount += 1
        metrics.filesOpen.record(openCount)
        statistics.filesOpen = openCount
        file.lastSize = status.size
        file.lastGrowth = now
        file.atEnd = false

        if file.needsVerification {
            file.needsVerification = false
            if !matchesFingerprint(file.identity, descriptor: fd) {
                guard file.matched else {
                    close(&file)
                    return .forget
                }
                logger.info("file has a known inode but new first bytes (truncated and rewritten, or inode reused); reading it from the start", metadata: [
                    "path": "\(file.path)"
                ])
                restart(&file, descriptor: fd, reason: nil)
            } else if status.size < file.offset {
                restart(&file, descriptor: fd, reason: "it is shorter than its checkpoint offset")
            } else if file.head.isEmpty, file.identity.fingerprintLength > 0,
                case .success(let head) = FileSystem.read(descriptor: fd, count: Int(file.identity.fingerprintLength), at: 0)
            {
                file.head = head
            }
        }
        if file.checkPreviousByte {
            file.checkPreviousByte = false
            if file.offset > 0, !file.hasPartialLine,
                case .success(let previous) = FileSystem.read(descriptor: fd, count: 1, at: file.offset - 1)
            {
                file.lines.flushedBeforeNewline = previous.first != UInt8(ascii: "\n")
            }
        }
        return .opened
    }

    /// Closes a file's descriptor, keeping its offset; it is verified again when reopened.
    func close(_ file: inout TailedFile) {
        guard let fd = file.descriptor else { return }
        FileSystem.close(descriptor: fd)
        file.descriptor = nil
        openCount -= 1
        metrics.filesOpen.record(openCount)
        statistics.filesOpen = openCount
        // The partial line and the unfinished multi-line event (if any) are dropped and read again after reopening.
        file.readOffset = file.offset
        file.lines.discardUnfinishedLine()
        file.events?.discard()
        file.atEnd = false
        file.wantsOpen = false
        file.needsVerification = true
        file.checkPreviousByte = true
    }

    /// Starts the file again at 0 with a fresh fingerprint; its old identity and offset are remembered for a copy
    /// that copytruncate may have made of it.
    func restart(_ file: inout TailedFile, descriptor: CInt, reason: String?) {
        retire(file)
        if let reason {
            logger.info("reading log file again from the start because \(reason)", metadata: [
                "path": "\(file.path)", "previousOffset": "\(file.offset)",
            ])
            statistics.truncationsDetected += 1
            metrics.truncationsDetected.increment()
        }
        file.offset = 0
        file.readOffset = 0
        file.lines = LineSplitter(maxLineBytes: configuration.maxLineBytes)
        file.events?.discard()
        file.checkPreviousByte = false
        file.atEnd = false
        file.identity.fingerprint = FileFingerprint.offsetBasis
        file.identity.fingerprintLength = 0
        file.head = []
        takeFingerprint(&file, descriptor: descriptor)
    }

    /// Whether the file's first bytes still hash to the fingerprint in `identity` (true when there is none yet).
    func matchesFingerprint(_ identity: FileIdentity, descriptor: CInt) -> Bool {
        let length = Int(identity.fingerprintLength)
        guard length > 0 else { return true }
        guard case .success(let head) = FileSystem.read(descriptor: descriptor, count: length, at: 0),
            head.count == length
        else { return false }
        return FileFingerprint.hash(head) == identity.fingerprint
    }

    /// Hashes up to ``FileTailerConfiguration/fingerprintBytes`` leading bytes of the file into `identity`.
    func takeFingerprint(_ file: inout TailedFile, descriptor: CInt) {
        guard case .success(let head) = FileSystem.read(descriptor: descriptor, count: configuration.fingerprintBytes, at: 0)
        else { return }
        file.identity.fingerprint = FileFingerprint.hash(head)
        file.identity.fingerprintLength = UInt32(head.count)
        file.head = head
    }
}
