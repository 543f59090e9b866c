import Foundation
import LogFerryWire

/// How a sink writes an event as one line.
public enum EventFormat: String, Sendable, CaseIterable {
    /// The line as it came, one per line; a backslash, newline or carriage return inside it is escaped as
    /// `\\`, `\n`, `\r`, so every event is exactly one output line and the escaping can be undone.
    case raw
    /// A JSON object per line: `ts` (RFC 3339, nanoseconds, UTC), `host`, `source`, `line`, and `fields`
    /// when the event has any. Bytes that are not UTF-8 become U+FFFD.
    case json

    /// Appends `event` of a batch from `host` to `out`, newline included. A convenience over
    /// ``EventFormatter``, which sinks use to format whole batches without a `String` per event.
    func append(_ event: Event, host: String, to out: inout [UInt8]) {
        var formatter = EventFormatter(format: self)
        event.line.withUnsafeBytes { line in
            formatter.append(
                line: line, timestamp: event.timestamp, fields: event.fields,
                host: EventFormatter.jsonString(host), source: EventFormatter.jsonString(event.source), to: &out)
        }
    }
}
