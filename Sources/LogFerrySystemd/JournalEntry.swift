/// One journal entry as read: its cursor, its time, and the fields asked for.
public struct JournalEntry: Sendable, Hashable {
    /// The entry's cursor: stored by a reader to resume exactly after this entry.
    public var cursor: String
    /// When the entry was written (`__REALTIME_TIMESTAMP`), in microseconds since the Unix epoch.
    public var realtimeMicroseconds: UInt64
    /// Field values by name (`MESSAGE`, `_HOSTNAME`, ...), as bytes: journal values need not be UTF-8.
    public var fields: [String: [UInt8]]

    /// Creates an entry.
    public init(cursor: String, realtimeMicroseconds: UInt64, fields: [String: [UInt8]]) {
        self.cursor = cursor
        self.realtimeMicroseconds = realtimeMicroseconds
        self.fields = fields
    }

    /// The value of `name` as text (invalid UTF-8 repaired), or nil when the entry lacks the field.
    public func string(_ name: String) -> String? {
        fields[name].map { String(decoding: $0, as: UTF8.self) }
    }
}
