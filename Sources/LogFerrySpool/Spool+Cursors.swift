extension Spool {
    /// The named cursor's position; a new cursor starts just before the oldest stored record and is persisted.
    public func cursor(named name: String) async throws -> SpoolCursorPosition {
        try checkName(name)
        if let position = cursors[name] { return position }
        try checkOpen()
        let position = SpoolCursorPosition(committed: firstSequence &- 1)
        try writeCursor(name, position)
        cursors[name] = position
        metrics.backlog(cursor: name).record(backlog(committed: position.committed))
        return position
    }

    /// Records that the cursor's sink is done with every record up to `sequence`, together with the sink's own
    /// `state`, in one atomic write; then deletes the segments every cursor has passed.
    ///
    /// Under fsync `always` and `interval` the commit is on stable storage when this returns; under `never` it
    /// survives a crash of the process.
    public func commit(cursor name: String, through sequence: UInt64, state: [UInt8] = []) async throws {
        try checkName(name)
        try checkOpen()
        guard sequence < nextSequence else {
            throw SpoolError(.invalidSequence(sequence), "cannot commit cursor \(name) through \(sequence): the "
                + "spool \(layout.directory) has stored nothing beyond \(nextSequence - 1)")
        }
        let position = SpoolCursorPosition(committed: sequence, state: state)
        try writeCursor(name, position)
        cursors[name] = position
        metrics.backlog(cursor: name).record(backlog(committed: sequence))
        deleteConsumedSegments()
        // Under pressure (a capped spool half full, a nearly full disk) what every cursor has passed leaves the
        // disk now, the newest segment too, not when the next line arrives.
        if isUnderCapacityPressure { _ = reclaimConsumedTail() }
        // A blocked append re-checks: the tail may now be reclaimable although no segment was deleted.
        waiters.resumeCapacity()
    }

    /// Forgets a cursor; segments it alone held back are deleted.
    public func removeCursor(named name: String) async throws {
        try checkName(name)
        try checkOpen()
        let path = layout.cursorPath(name)
        do throws(POSIXError) {
            try POSIXFile.unlink(path)
            if configuration.fsync != .never { try POSIXFile.syncDirectory(layout.cursorsDirectory) }
        } catch {
            throw stateWriteFailed(error, path: path)
        }
        cursors[name] = nil
        metrics.backlog(cursor: name).record(0)
        deleteConsumedSegments()
        waiters.resumeCapacity()
    }

    /// Saves a small named blob crash-safely (e.g. a node's snapshot); replaces any earlier one.
    public func saveState(_ name: String, _ bytes: [UInt8]) async throws {
        try checkName(name)
        try checkOpen()
        let path = layout.statePath(name)
        do throws(POSIXError) {
            try StateFile.write(bytes, to: path, durable: configuration.fsync != .never)
        } catch {
            throw stateWriteFailed(error, path: path)
        }
    }

    /// The blob saved under `name`, or `nil` when there is none or it is damaged (logged and counted).
    public func loadState(_ name: String) -> [UInt8]? {
        guard SpoolLayout.isValidName(name) else { return nil }
        let path = layout.statePath(name)
        switch StateFile.read(path) {
        case .missing:
            return nil
        case .body(let bytes):
            return bytes
        case .corrupt(let reason):
            logger.error("damaged state file ignored", metadata: ["path": "\(path)", "reason": "\(reason)"])
            quarantineFile(path, as: "state-\(name)")
            return nil
        }
    }

    func writeCursor(_ name: String, _ position: SpoolCursorPosition) throws {
        let path = layout.cursorPath(name)
        do throws(POSIXError) {
            try StateFile.write(position.encoded(), to: path, durable: configuration.fsync != .never)
        } catch {
            throw stateWriteFailed(error, path: path)
        }
    }

    func stateWriteFailed(_ error: POSIXError, path: String) -> SpoolError {
        if error.isNoSpace {
            return SpoolError(.noSpace, "no space to write \(path): \(error). Free disk space and retry.")
        }
        if error.operation == "fdatasync" || error.operation == "fsync" {
            return fail("cannot sync \(path): \(error)")
        }
        return SpoolError(.io(errno: error.code), "cannot write \(path): \(error)")
    }

    func checkName(_ name: String) throws {
        guard SpoolLayout.isValidName(name) else {
            throw SpoolError(.invalidName(name), "\"\(name)\" is not a usable cursor or state name: use 1 to 100 "
                + "characters of A-Z a-z 0-9 . _ -, not starting with a dot")
        }
    }

    func checkOpen() throws {
        if closed { throw SpoolError(.closed, "the spool \(layout.directory) is closed") }
    }
}
