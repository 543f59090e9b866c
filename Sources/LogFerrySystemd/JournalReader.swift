import NIOPosix

/// Reads a systemd journal with libsystemd's sd-journal, from async code.
///
/// The `sd_journal` object lives on a thread of the reader's own: every call, including the blocking wait for new
/// entries, runs there, so no cooperative thread is ever blocked and the object is only ever touched by one
/// thread. Use it inside ``withReader(_:dataThreshold:_:)``, which opens the journal and always closes it.
///
/// ```swift
/// try await JournalReader.withReader(.directory("/var/log/journal/remote")) { reader in
///     try await reader.addMatch("_SYSTEMD_UNIT=nginx.service")
///     _ = try await reader.seek(after: storedCursor)
///     while true {
///         let entries = try await reader.next(limit: 512)
///         if entries.isEmpty { _ = try await reader.wait(timeout: .milliseconds(250)) }
///     }
/// }
/// ```
public final class JournalReader: Sendable {
    /// The journal read.
    public let location: JournalLocation
    private let thread: NIOThreadPool
    private let handle: JournalHandle

    private init(location: JournalLocation, thread: NIOThreadPool, handle: JournalHandle) {
        self.location = location
        self.thread = thread
        self.handle = handle
    }

    /// Opens `location`, runs `body` with a reader, and closes the journal and its thread whatever `body` does.
    ///
    /// - Parameters:
    ///   - location: the local journal or a directory of journal files.
    ///   - dataThreshold: the most bytes of one field value returned; longer values are cut (libsystemd's
    ///     default is 64 KiB).
    ///   - body: what to do with the reader; it must not keep the reader beyond its return.
    /// - Throws: ``JournalError`` when the journal cannot be opened, or what `body` throws.
    public static func withReader<Result: Sendable>(
        _ location: JournalLocation,
        dataThreshold: Int = 64 << 10,
        _ body: (JournalReader) async throws -> Result
    ) async throws -> Result {
        let thread = NIOThreadPool(numberOfThreads: 1)
        thread.start()
        let handle: JournalHandle
        do {
            handle = try await thread.runIfActive { try JournalHandle(location: location, dataThreshold: dataThreshold) }
        } catch {
            try? await thread.shutdownGracefully()
            throw error
        }
        let reader = JournalReader(location: location, thread: thread, handle: handle)
        let result: Result
        do {
            result = try await body(reader)
        } catch {
            await reader.close()
            throw error
        }
        await reader.close()
        return result
    }

    /// Stops the thread, then closes the journal. Every call made through the thread has returned by now (a call
    /// cancelled before it ran never runs), so closing here touches the object from one thread only, and also
    /// works when the task is cancelled (work submitted to the pool then would not run).
    private func close() async {
        try? await thread.shutdownGracefully()
        handle.close()
    }

    private func run<T: Sendable>(_ work: @escaping @Sendable (JournalHandle) throws -> T) async throws -> T {
        let handle = self.handle
        return try await thread.runIfActive { try work(handle) }
    }

    /// Adds a `FIELD=VALUE` match (as `journalctl FIELD=VALUE`): several matches on one field are alternatives,
    /// matches on different fields must all hold. Add matches before ``seek(after:)``.
    /// - Throws: ``JournalError`` naming the match when it is not `FIELD=VALUE`.
    public func addMatch(_ match: String) async throws {
        try await run { try $0.addMatch(match) }
    }

    /// Starts a new group of matches; an entry is read when any group holds (`+` in journalctl).
    public func addDisjunction() async throws {
        try await run { try $0.addDisjunction() }
    }

    /// Positions the reader after the entry `cursor` names, or at `start` (the head by default) when `cursor` is
    /// nil; when the entry is gone, at the first entry after its position (see ``JournalSeekOutcome``). The next
    /// ``next(limit:fields:)`` returns the first entry not read before.
    public func seek(after cursor: String?, otherwise start: JournalStart = .head) async throws -> JournalSeekOutcome {
        try await run { try $0.seek(after: cursor, otherwise: start) }
    }

    /// Up to `limit` entries after the last one returned (fewer, or none, at the end of the journal), with the
    /// fields named in `fields`, or every field when nil.
    public func next(limit: Int, fields: [String]? = nil) async throws -> [JournalEntry] {
        try await run { try $0.next(limit: max(1, limit), fields: fields) }
    }

    /// Whether the entry last returned is the one `cursor` names (`sd_journal_test_cursor`).
    public func isCurrent(cursor: String) async throws -> Bool {
        try await run { $0.test(cursor: cursor) }
    }

    /// Waits on the reader's thread up to `timeout` for the journal to change (`sd_journal_wait` over the
    /// inotify descriptor of `sd_journal_get_fd`). Keep timeouts short: cancellation is seen between waits.
    public func wait(timeout: Duration) async throws -> JournalChange {
        try Task.checkCancellation()
        let (seconds, attoseconds) = timeout.components
        let microseconds = UInt64(max(0, seconds)) * 1_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000_000)
        return try await run { try $0.wait(microseconds: microseconds) }
    }

    /// The journal files of ``location`` this process may not read. libsystemd skips them without an error, so a
    /// caller warns about them: usually the user lacks the `systemd-journal` or `adm` group.
    public func unreadableFiles() async throws -> [String] {
        let location = self.location
        return try await run { _ in JournalHandle.unreadableFiles(in: location) }
    }

    /// Bytes the journal's files take on disk, when libsystemd can tell.
    public func usageBytes() async throws -> UInt64? {
        try await run { $0.usage() }
    }
}
