import Glibc
import Logging

/// Discovery: evaluating the patterns, picking up new files, following renames, adopting checkpoints after a
/// restart, forgetting files that are gone, and the inotify watches on their directories.
extension FileTailer {
    /// Stops tracking a file: closes its descriptor and drops its state (and so its checkpoint).
    func forget(_ key: FileKey, reason: String) {
        guard var file = files.removeValue(forKey: key) else { return }
        close(&file)
        statistics.filesForgotten += 1
        metrics.filesForgotten.increment()
        logger.debug("stopped tailing file", metadata: ["path": "\(file.path)", "reason": "\(reason)"])
    }

    /// Drops forgotten files from the round-robin order and updates the tracked-files gauge.
    func compactOrder() {
        order.removeAll { files[$0] == nil }
        nextIndex = order.isEmpty ? 0 : nextIndex % order.count
        statistics.filesTracked = files.count
        metrics.filesTracked.record(files.count)
    }

    /// Evaluates the patterns: picks up new files, follows renames, notices files that went away.
    func rescan(now: ContinuousClock.Instant) {
        let initial = lastRescan == nil
        lastRescan = now
        var seen = Set<FileKey>()
        for pattern in configuration.patterns {
            for path in FileSystem.glob(pattern) where !isExcluded(path) {
                guard case .success(let status) = FileSystem.status(path: path), status.isRegularFile,
                    seen.insert(status.key).inserted
                else { continue }
                if var file = files[status.key] {
                    file.path = path
                    file.matched = true
                    if file.descriptor == nil, !file.skipped, status.size != file.readOffset || file.reportedOpenError != nil {
                        file.wantsOpen = true
                    }
                    files[status.key] = file
                } else {
                    discover(path: path, status: status, initial: initial, now: now)
                }
            }
        }

        var gone: [FileKey] = []
        for key in order where !seen.contains(key) {
            guard var file = files[key] else { continue }
            file.matched = false
            if file.descriptor == nil {
                // Closed and no longer under its name: look for it (by inode) in its directory.
                if !file.skipped, file.classified, let path = FileSystem.findEntry(in: FileSystem.directoryName(file.path), inode: key.inode),
                    case .success(let status) = FileSystem.status(path: path), status.key == key,
                    status.size != file.readOffset
                {
                    file.path = path
                    file.wantsOpen = true
                } else {
                    gone.append(key)
                }
            }
            files[key] = file
        }
        for key in gone { forget(key, reason: "no longer present under the watched patterns and fully read") }

        if initial { adoptOrphanedCheckpoints(now: now) }
        compactOrder()
        updateWatches()
    }

    /// Starts tracking a file found by the scan: at its checkpoint when one matches its device and inode, else at 0
    /// (or at its end under ``FileTailerConfiguration/startAtEnd`` for files present at the first scan).
    func discover(path: String, status: FileSystem.Status, initial: Bool, now: ContinuousClock.Instant) {
        var file: TailedFile
        if let checkpoint = pendingCheckpoints.removeValue(forKey: status.key) {
            file = resumedFile(checkpoint, at: path, matched: true, now: now)
        } else {
            let start = initial && configuration.startAtEnd && !checkpointedPaths.contains(path) ? status.size : 0
            file = TailedFile(
                path: path,
                identity: FileIdentity(
                    device: status.key.device,
                    inode: status.key.inode,
                    fingerprint: FileFingerprint.offsetBasis,
                    fingerprintLength: 0
                ),
                offset: start,
                readOffset: start,
                lines: LineSplitter(maxLineBytes: configuration.maxLineBytes),
                needsVerification: false,
                checkPreviousByte: start > 0,
                matched: true,
                lastGrowth: now
            )
            // Read from 0 only once its first bytes show it is neither compressed nor a copy of a file already read.
            file.classified = start > 0
            file.events = configuration.multiline.map { MultilineAssembler(configuration: $0) }
        }
        statistics.filesDiscovered += 1
        metrics.filesDiscovered.increment()
        logger.debug("tailing file", metadata: ["path": "\(path)", "offset": "\(file.offset)"])
        files[status.key] = file
        order.append(status.key)
    }

    /// Checkpointed files that the patterns no longer match (renamed during a restart) are looked up by inode in
    /// their directory and read to their end; the others are gone and dropped.
    func adoptOrphanedCheckpoints(now: ContinuousClock.Instant) {
        let orphans = pendingCheckpoints.values.sorted { $0.path < $1.path }
        pendingCheckpoints = [:]
        for checkpoint in orphans {
            let key = checkpoint.identity.key
            // Only a file this source is configured for now (renamed away during a restart) is followed: the
            // offsets of a copied spool, or of a file removed from the configuration, are not read.
            guard configuration.patterns.contains(where: { fnmatch($0, checkpoint.path, 0) == 0 }) else {
                logger.warning("checkpoint of a file that is not in this source's --file patterns; not reading it", metadata: [
                    "path": "\(checkpoint.path)", "offset": "\(checkpoint.offset)",
                ])
                continue
            }
            guard files[key] == nil,
                let path = FileSystem.findEntry(in: FileSystem.directoryName(checkpoint.path), inode: key.inode),
                case .success(let status) = FileSystem.status(path: path), status.key == key, status.isRegularFile
            else {
                logger.info("checkpointed file is gone; forgetting it", metadata: [
                    "path": "\(checkpoint.path)", "offset": "\(checkpoint.offset)",
                ])
                continue
            }
            files[key] = resumedFile(checkpoint, at: path, matched: false, now: now)
            order.append(key)
            statistics.filesDiscovered += 1
            metrics.filesDiscovered.increment()
            logger.info("checkpointed file was renamed; reading it to its end", metadata: [
                "path": "\(path)", "previousPath": "\(checkpoint.path)",
            ])
        }
    }

    /// A file to resume at its checkpoint, once its fingerprint is verified at the first open.
    private func resumedFile(
        _ checkpoint: FileCheckpoint, at path: String, matched: Bool, now: ContinuousClock.Instant
    ) -> TailedFile {
        var file = TailedFile(
            path: path,
            identity: checkpoint.identity,
            offset: checkpoint.offset,
            readOffset: checkpoint.offset,
            lines: LineSplitter(maxLineBytes: configuration.maxLineBytes),
            needsVerification: true,
            checkPreviousByte: true,
            matched: matched,
            lastGrowth: now
        )
        file.events = configuration.multiline.map { MultilineAssembler(configuration: $0) }
        return file
    }

    /// Keeps one inotify watch per directory that holds a tracked file or is the fixed prefix of a pattern.
    func updateWatches() {
        guard let watcher else { return }
        var wanted = Set(files.values.map { FileSystem.directoryName($0.path) })
        for pattern in configuration.patterns {
            if let dir = FileSystem.staticDirectory(ofPattern: pattern) { wanted.insert(dir) }
        }
        for (dir, wd) in watchedDirectories where !wanted.contains(dir) {
            watcher.unwatch(wd)
            watchedDirectories[dir] = nil
        }
        for dir in wanted where watchedDirectories[dir] == nil {
            if let wd = watcher.watch(directory: dir) { watchedDirectories[dir] = wd }
        }
    }
}
