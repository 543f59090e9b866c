import CSystemd
#if canImport(Glibc)
import Glibc
#endif

/// The `sd_journal` object of a ``JournalReader``: every libsystemd call on it, made synchronously.
///
/// An `sd_journal` may be used by one thread at a time; the reader calls this only from its own single thread,
/// which is why it can be `@unchecked Sendable`. Nothing outside this module sees the C pointer.
final class JournalHandle: @unchecked Sendable {
    private let journal: OpaquePointer
    let name: String
    /// Set when a seek left the reader on an entry that was not handed out yet (a missing cursor's successor).
    private var currentIsUnread = false

    /// Opens `location`; `dataThreshold` caps how many bytes of a field are returned (longer values are cut).
    init(location: JournalLocation, dataThreshold: Int) throws(JournalError) {
        name = location.description
        var pointer: OpaquePointer?
        let result: Int32
        let operation: String
        switch location {
        case .local:
            operation = "sd_journal_open"
            result = sd_journal_open(&pointer, Int32(SD_JOURNAL_LOCAL_ONLY))
        case .directory(let path):
            operation = "sd_journal_open_directory"
            result = sd_journal_open_directory(&pointer, path, 0)
        }
        guard result >= 0, let pointer else {
            throw JournalError(operation, journal: location.description, result: result)
        }
        journal = pointer
        // Sets up inotify now, so that a change between this open and the first wait is not missed.
        let fd = sd_journal_get_fd(pointer)
        guard fd >= 0 else {
            sd_journal_close(pointer)
            throw JournalError("sd_journal_get_fd", journal: location.description, result: fd)
        }
        _ = sd_journal_set_data_threshold(pointer, max(0, dataThreshold))
    }

    /// Closes the journal.
    func close() {
        sd_journal_close(journal)
    }

    /// Adds a `FIELD=VALUE` match: matches on one field are alternatives, on different fields all must hold.
    func addMatch(_ match: String) throws(JournalError) {
        let result = match.utf8CString.withUnsafeBufferPointer { buffer in
            sd_journal_add_match(journal, buffer.baseAddress, buffer.count - 1)
        }
        guard result >= 0 else {
            throw JournalError("sd_journal_add_match", journal: name, result: result, detail: "the match '\(match)' must be FIELD=VALUE with FIELD in capitals, digits and '_'")
        }
    }

    /// Starts a new group of matches, any of which may hold (`+` in journalctl).
    func addDisjunction() throws(JournalError) {
        let result = sd_journal_add_disjunction(journal)
        guard result >= 0 else { throw JournalError("sd_journal_add_disjunction", journal: name, result: result) }
    }

    /// Positions the reader after the entry `cursor` names, or at the head (see ``JournalSeekOutcome``).
    func seek(after cursor: String?, otherwise start: JournalStart) throws(JournalError) -> JournalSeekOutcome {
        currentIsUnread = false
        guard let cursor else {
            if start == .tail {
                try seekTail()
                return .tail
            }
            try seekHead()
            return .head
        }
        let sought = sd_journal_seek_cursor(journal, cursor)
        if sought == -EINVAL {
            try seekHead()
            return .cursorInvalid
        }
        guard sought >= 0 else { throw JournalError("sd_journal_seek_cursor", journal: name, result: sought) }
        // seek_cursor goes to the cursor's position; next lands on its entry when it still exists, otherwise on
        // the first entry after that position.
        let moved = sd_journal_next(journal)
        guard moved >= 0 else { throw JournalError("sd_journal_next", journal: name, result: moved) }
        if moved == 0 {
            // Nothing at or after the position: the entry is gone. The position stays, so later entries follow.
            return .cursorMissing(firstEntryMicroseconds: nil)
        }
        if sd_journal_test_cursor(journal, cursor) > 0 {
            return .afterCursor
        }
        currentIsUnread = true
        return .cursorMissing(firstEntryMicroseconds: try realtime())
    }

    /// On the newest entry, so that the next one read is the first written after it; at the head of an empty
    /// journal (where the first entry written is the first read).
    private func seekTail() throws(JournalError) {
        let result = sd_journal_seek_tail(journal)
        guard result >= 0 else { throw JournalError("sd_journal_seek_tail", journal: name, result: result) }
        let moved = sd_journal_previous(journal)
        guard moved >= 0 else { throw JournalError("sd_journal_previous", journal: name, result: moved) }
        if moved == 0 { try seekHead() }
    }

    private func seekHead() throws(JournalError) {
        let result = sd_journal_seek_head(journal)
        guard result >= 0 else { throw JournalError("sd_journal_seek_head", journal: name, result: result) }
    }

    /// Whether the current entry is the one `cursor` names.
    func test(cursor: String) -> Bool {
        sd_journal_test_cursor(journal, cursor) > 0
    }

    /// Up to `limit` entries after the current one, with the fields in `fields` (every field when nil).
    func next(limit: Int, fields: [String]?) throws(JournalError) -> [JournalEntry] {
        var entries: [JournalEntry] = []
        while entries.count < limit {
            if currentIsUnread {
                currentIsUnread = false
            } else {
                let moved = sd_journal_next(journal)
                guard moved >= 0 else { throw JournalError("sd_journal_next", journal: name, result: moved) }
                if moved == 0 { break }
            }
            entries.append(try currentEntry(fields: fields))
        }
        return entries
    }

    private func currentEntry(fields wanted: [String]?) throws(JournalError) -> JournalEntry {
        var cursorPointer: UnsafeMutablePointer<CChar>?
        let got = sd_journal_get_cursor(journal, &cursorPointer)
        guard got >= 0, let cursorPointer else { throw JournalError("sd_journal_get_cursor", journal: name, result: got) }
        let cursor = String(cString: cursorPointer)
        free(cursorPointer)
        var fields: [String: [UInt8]] = [:]
        if let wanted {
            for field in wanted {
                var data: UnsafeRawPointer?
                var length = 0
                let result = sd_journal_get_data(journal, field, &data, &length)
                if result == -ENOENT { continue }
                guard result >= 0, let data else {
                    throw JournalError("sd_journal_get_data(\(field))", journal: name, result: result)
                }
                if let pair = Self.split(data, length), pair.name == field { fields[pair.name] = pair.value }
            }
        } else {
            sd_journal_restart_data(journal)
            var data: UnsafeRawPointer?
            var length = 0
            while sd_journal_enumerate_available_data(journal, &data, &length) > 0 {
                if let data, let pair = Self.split(data, length) { fields[pair.name] = pair.value }
            }
        }
        return JournalEntry(cursor: cursor, realtimeMicroseconds: try realtime(), fields: fields)
    }

    /// `NAME=value` bytes as the name and the value.
    private static func split(_ data: UnsafeRawPointer, _ length: Int) -> (name: String, value: [UInt8])? {
        let bytes = UnsafeRawBufferPointer(start: data, count: length)
        guard let equals = bytes.firstIndex(of: UInt8(ascii: "=")) else { return nil }
        return (String(decoding: bytes[..<equals], as: UTF8.self), Array(bytes[(equals + 1)...]))
    }

    private func realtime() throws(JournalError) -> UInt64 {
        var microseconds: UInt64 = 0
        let result = sd_journal_get_realtime_usec(journal, &microseconds)
        guard result >= 0 else { throw JournalError("sd_journal_get_realtime_usec", journal: name, result: result) }
        return microseconds
    }

    /// Blocks up to `microseconds` for a change (this is why the reader has a thread of its own).
    func wait(microseconds: UInt64) throws(JournalError) -> JournalChange {
        let result = sd_journal_wait(journal, microseconds)
        switch result {
        case Int32(SD_JOURNAL_APPEND): return .appended
        case Int32(SD_JOURNAL_INVALIDATE): return .filesChanged
        case -EINTR: return .none
        case ..<0: throw JournalError("sd_journal_wait", journal: name, result: result)
        default: return .none
        }
    }

    /// Journal files of `location` this process may not read (`access(R_OK)`): sd-journal skips them silently,
    /// so their entries would be missing without a word. Looks one directory level deep (the machine-id
    /// directories of `/var/log/journal` and `/run/log/journal`).
    static func unreadableFiles(in location: JournalLocation) -> [String] {
        let roots: [String]
        switch location {
        case .local: roots = ["/var/log/journal", "/run/log/journal"]
        case .directory(let path): roots = [path]
        }
        var unreadable: [String] = []
        for root in roots {
            for entry in listDirectory(root) {
                let path = root + "/" + entry
                if entry.hasSuffix(".journal") || entry.hasSuffix(".journal~") {
                    if access(path, R_OK) != 0 { unreadable.append(path) }
                    continue
                }
                var status = stat()
                guard stat(path, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR else { continue }
                if access(path, R_OK | X_OK) != 0 {
                    unreadable.append(path + "/")
                    continue
                }
                for file in listDirectory(path) where file.hasSuffix(".journal") || file.hasSuffix(".journal~") {
                    if access(path + "/" + file, R_OK) != 0 { unreadable.append(path + "/" + file) }
                }
            }
        }
        return unreadable.sorted()
    }

    private static func listDirectory(_ path: String) -> [String] {
        guard let directory = opendir(path) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
                String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Bytes the journal's files take on disk.
    func usage() -> UInt64? {
        var bytes: UInt64 = 0
        return sd_journal_get_usage(journal, &bytes) >= 0 ? bytes : nil
    }
}
