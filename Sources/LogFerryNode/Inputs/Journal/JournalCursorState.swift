/// The journal position an agent has durably reached, derived from its spool: each record that holds journal
/// entries carries the cursor of its last entry. Rebuilt on start (snapshot plus the records after it), it tells
/// the journal source where to resume, so a kill -9 neither skips nor repeats an entry.
struct JournalCursorState: SpoolDerivedState, Equatable {
    /// The cursor of the last entry stored, nil before the first.
    var cursor: String?

    /// Nothing read yet.
    init() {}

    /// A state at `cursor`.
    init(cursor: String?) {
        self.cursor = cursor
    }

    /// Restores a snapshot made by `snapshot()`.
    init(snapshot: [UInt8]) throws {
        cursor = snapshot.isEmpty ? nil : String(decoding: snapshot, as: UTF8.self)
    }

    /// The bytes of a snapshot: the cursor's text.
    func snapshot() -> [UInt8] {
        cursor.map { Array($0.utf8) } ?? []
    }

    /// Takes the cursor a record carries.
    mutating func apply(_ metadata: RecordMetadata, sequence: UInt64) {
        if let cursor = metadata.journalCursor { self.cursor = cursor }
    }

    /// The entry time written in a cursor (its `t=` part, microseconds), for messages only: cursors are otherwise
    /// opaque.
    static func realtime(of cursor: String) -> UInt64? {
        for part in cursor.split(separator: ";") where part.hasPrefix("t=") {
            return UInt64(part.dropFirst(2), radix: 16)
        }
        return nil
    }
}
