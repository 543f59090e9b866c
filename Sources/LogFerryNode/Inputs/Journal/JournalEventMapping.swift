import Glibc
import LogFerrySystemd
import LogFerryWire

/// How a journal entry becomes an event: `MESSAGE` is the line; the host, identifier, priority, unit, pid and
/// the entry's time become fields.
enum JournalEventMapping {
    /// The event source of every journal event (and so the output file name a file sink uses: `journal.log`).
    static let source = "journal"

    /// Journal fields carried as event fields, and their event field names.
    static let carriedFields: [(journal: String, event: String)] = [
        ("_HOSTNAME", "journal.hostname"),
        ("SYSLOG_IDENTIFIER", "journal.identifier"),
        ("PRIORITY", "journal.priority"),
        ("_SYSTEMD_UNIT", "journal.unit"),
        ("_PID", "journal.pid"),
    ]

    /// The event field holding the entry's time (`__REALTIME_TIMESTAMP`) in RFC 3339, UTC, microseconds.
    static let timestampField = "journal.timestamp"

    /// The journal fields the source reads from each entry.
    static let requestedFields = ["MESSAGE"] + carriedFields.map(\.journal)

    /// The event for `entry`, read at `readAt` (nanoseconds since the epoch); `cut` tells whether the message was
    /// longer than `maxLineBytes`. An entry without `MESSAGE` becomes an empty line, so that every entry is shipped.
    static func event(from entry: JournalEntry, readAt: UInt64, maxLineBytes: Int) -> (event: Event, cut: Bool) {
        var line = entry.fields["MESSAGE"] ?? []
        let cut = line.count > maxLineBytes
        if cut { line.removeSubrange(maxLineBytes...) }
        var fields: [String: String] = [timestampField: rfc3339(microseconds: entry.realtimeMicroseconds)]
        for (journalName, eventName) in carriedFields {
            if let value = entry.string(journalName) { fields[eventName] = value }
        }
        return (Event(timestamp: readAt, source: source, line: line, fields: fields), cut)
    }

    /// `2026-11-30T16:33:10.123456Z` for microseconds since the epoch.
    static func rfc3339(microseconds: UInt64) -> String {
        var seconds = time_t(microseconds / 1_000_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let fraction = String(microseconds % 1_000_000)
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))"
            + "T\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))"
            + "." + String(repeating: "0", count: 6 - fraction.count) + fraction + "Z"
    }
}
