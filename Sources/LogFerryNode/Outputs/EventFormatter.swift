import Foundation
import LogFerryWire

/// Writes events in an ``EventFormat`` straight from their bytes into an output buffer.
///
/// The receiver's hot path: one call per event, no `String` per event. The host and source are passed
/// already JSON-quoted (``jsonString(_:)``, once per batch and source), and the RFC 3339 date is formatted
/// once per second of timestamps, not per event.
struct EventFormatter {
    /// The format written.
    let format: EventFormat
    private var cachedSecond: UInt64 = .max
    private var cachedDate: [UInt8] = []

    init(format: EventFormat) {
        self.format = format
    }

    /// Appends one event, newline included. `host` and `source` are JSON string literals (quotes included)
    /// and are used by the JSON format only.
    mutating func append(
        line: UnsafeRawBufferPointer, timestamp: UInt64, fields: [String: String],
        host: [UInt8], source: [UInt8], to out: inout [UInt8]
    ) {
        switch format {
        case .raw:
            Self.appendEscaped(line, to: &out)
        case .json:
            out.append(contentsOf: #"{"ts":""#.utf8)
            appendDate(nanoseconds: timestamp, to: &out)
            out.append(contentsOf: #"","host":"#.utf8)
            out.append(contentsOf: host)
            out.append(contentsOf: #","source":"#.utf8)
            out.append(contentsOf: source)
            out.append(contentsOf: #","line":"#.utf8)
            Self.appendJSONString(line, to: &out)
            if !fields.isEmpty {
                out.append(contentsOf: #","fields":{"#.utf8)
                for (index, key) in fields.keys.sorted().enumerated() {
                    if index > 0 { out.append(UInt8(ascii: ",")) }
                    out.append(contentsOf: Self.jsonString(key))
                    out.append(UInt8(ascii: ":"))
                    out.append(contentsOf: Self.jsonString(fields[key] ?? ""))
                }
                out.append(UInt8(ascii: "}"))
            }
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "\n"))
    }

    /// `text` as a JSON string literal, quotes included.
    static func jsonString(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        var text = text
        text.withUTF8 { appendJSONString(UnsafeRawBufferPointer($0), to: &out) }
        return out
    }

    /// Appends `line` with `\`, newline and carriage return escaped.
    static func appendEscaped(_ line: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        // Almost no line has anything to escape: libc's vectorised memchr finds that out fastest.
        if let base = line.baseAddress,
           memchr(base, Int32(UInt8(ascii: "\\")), line.count) == nil,
           memchr(base, Int32(UInt8(ascii: "\n")), line.count) == nil,
           memchr(base, Int32(UInt8(ascii: "\r")), line.count) == nil {
            appendBytes(line, to: &out)
            return
        }
        var start = 0
        for index in 0..<line.count {
            let escaped: UInt8
            switch line[index] {
            case UInt8(ascii: "\\"): escaped = UInt8(ascii: "\\")
            case UInt8(ascii: "\n"): escaped = UInt8(ascii: "n")
            case UInt8(ascii: "\r"): escaped = UInt8(ascii: "r")
            default: continue
            }
            appendBytes(UnsafeRawBufferPointer(rebasing: line[start..<index]), to: &out)
            out.append(UInt8(ascii: "\\"))
            out.append(escaped)
            start = index + 1
        }
        appendBytes(UnsafeRawBufferPointer(rebasing: line[start...]), to: &out)
    }

    /// Appends `bytes` as a JSON string literal. Printable ASCII without `"` or `\` is copied as it is;
    /// anything else goes through Unicode scalars, so invalid UTF-8 becomes U+FFFD.
    static func appendJSONString(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        if bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x80 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) {
            appendBytes(bytes, to: &out)
        } else {
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
        }
        out.append(UInt8(ascii: "\""))
    }

    private static func appendBytes(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        guard !bytes.isEmpty else { return }
        out.append(contentsOf: bytes.assumingMemoryBound(to: UInt8.self))
    }

    /// Appends `2026-11-26T14:55:52.123456789Z`; the part up to the seconds is kept for the next event.
    private mutating func appendDate(nanoseconds: UInt64, to out: inout [UInt8]) {
        let second = nanoseconds / 1_000_000_000
        if second != cachedSecond {
            cachedSecond = second
            cachedDate = Array(Self.rfc3339Seconds(second).utf8)
        }
        out.append(contentsOf: cachedDate)
        out.append(UInt8(ascii: "."))
        var fraction = nanoseconds % 1_000_000_000
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { buffer in
            for position in stride(from: 8, through: 0, by: -1) {
                buffer[position] = UInt8(ascii: "0") + UInt8(fraction % 10)
                fraction /= 10
            }
            out.append(contentsOf: buffer.assumingMemoryBound(to: UInt8.self))
        }
        out.append(UInt8(ascii: "Z"))
    }

    /// `2026-11-26T14:55:52` for a count of seconds since the epoch, UTC.
    static func rfc3339Seconds(_ second: UInt64) -> String {
        var seconds = time_t(second)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(Int(parts.tm_year) + 1900, 4))-\(pad(Int(parts.tm_mon) + 1, 2))-\(pad(Int(parts.tm_mday), 2))"
            + "T\(pad(Int(parts.tm_hour), 2)):\(pad(Int(parts.tm_min), 2)):\(pad(Int(parts.tm_sec), 2))"
    }
}
