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

    /// Appends `event` of a batch from `host` to `out`, newline included.
    func append(_ event: Event, host: String, to out: inout [UInt8]) {
        switch self {
        case .raw:
            Self.appendEscaped(event.line, to: &out)
        case .json:
            out.append(contentsOf: #"{"ts":""#.utf8)
            out.append(contentsOf: Self.rfc3339(nanoseconds: event.timestamp).utf8)
            out.append(contentsOf: #"","host":"#.utf8)
            Self.appendJSONString(Array(host.utf8), to: &out)
            out.append(contentsOf: #","source":"#.utf8)
            Self.appendJSONString(Array(event.source.utf8), to: &out)
            out.append(contentsOf: #","line":"#.utf8)
            Self.appendJSONString(event.line, to: &out)
            if !event.fields.isEmpty {
                out.append(contentsOf: #","fields":{"#.utf8)
                for (index, key) in event.fields.keys.sorted().enumerated() {
                    if index > 0 { out.append(UInt8(ascii: ",")) }
                    Self.appendJSONString(Array(key.utf8), to: &out)
                    out.append(UInt8(ascii: ":"))
                    Self.appendJSONString(Array((event.fields[key] ?? "").utf8), to: &out)
                }
                out.append(UInt8(ascii: "}"))
            }
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "\n"))
    }

    static func appendEscaped(_ line: [UInt8], to out: inout [UInt8]) {
        // Most lines have nothing to escape: copy them whole.
        if !line.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") }) {
            out.append(contentsOf: line)
            return
        }
        for byte in line {
            switch byte {
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case UInt8(ascii: "\n"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case UInt8(ascii: "\r"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            default: out.append(byte)
            }
        }
    }

    static func appendJSONString(_ bytes: [UInt8], to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        let text = String(decoding: bytes, as: UTF8.self)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out.append(contentsOf: #"\""#.utf8)
            case "\\": out.append(contentsOf: #"\\"#.utf8)
            case "\n": out.append(contentsOf: #"\n"#.utf8)
            case "\r": out.append(contentsOf: #"\r"#.utf8)
            case "\t": out.append(contentsOf: #"\t"#.utf8)
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out.append(contentsOf: "\\u\(String(repeating: "0", count: 4 - hex.count))\(hex)".utf8)
            default:
                out.append(contentsOf: String(scalar).utf8)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// `2026-11-26T14:55:52.123456789Z`.
    static func rfc3339(nanoseconds: UInt64) -> String {
        var seconds = time_t(nanoseconds / 1_000_000_000)
        let fraction = nanoseconds % 1_000_000_000
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(Int(parts.tm_year) + 1900, 4))-\(pad(Int(parts.tm_mon) + 1, 2))-\(pad(Int(parts.tm_mday), 2))"
            + "T\(pad(Int(parts.tm_hour), 2)):\(pad(Int(parts.tm_min), 2)):\(pad(Int(parts.tm_sec), 2))"
            + ".\(pad(Int(fraction), 9))Z"
    }
}
