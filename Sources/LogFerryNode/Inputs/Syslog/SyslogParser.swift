#if canImport(Glibc)
import Glibc
#endif

/// Parses syslog messages (RFC 5424 and RFC 3164). Never fails: what cannot be parsed stays in ``SyslogMessage/raw``
/// with format ``SyslogMessage/Format/unknown``.
///
/// RFC 3164 in the wild varies; accepted are `<PRI>Mmm dd hh:mm:ss[.frac] HOST TAG[PID]: MSG`, the same without HOST
/// (`<PRI>Mmm dd hh:mm:ss TAG: MSG`, recognised by the colon or `[pid]` that ends a TAG), an RFC 3339 timestamp in
/// place of the BSD one, and messages without a TAG. A message with a `<PRI>` but no recognisable timestamp is
/// `.unknown` with facility and severity set and `message` the text after `<PRI>`.
enum SyslogParser {
    /// Parses one message (without framing). `receivedAt` (nanoseconds since the Unix epoch) supplies the year
    /// missing from RFC 3164 timestamps.
    static func parse(_ bytes: [UInt8], receivedAt: UInt64 = currentTimeNanos()) -> SyslogMessage {
        var result = SyslogMessage(raw: bytes)
        guard let (pri, afterPRI) = parsePRI(bytes) else { return result }
        result.facility = UInt8(pri >> 3)
        result.severity = UInt8(pri & 7)
        result.message = Array(bytes[afterPRI...])
        if let afterVersion = parseVersion(bytes, from: afterPRI) {
            parse5424(bytes, from: afterVersion, into: &result)
        } else {
            parse3164(bytes, from: afterPRI, receivedAt: receivedAt, into: &result)
        }
        return result
    }

    /// Now, in nanoseconds since the Unix epoch.
    static func currentTimeNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(max(0, ts.tv_sec)) * 1_000_000_000 + UInt64(max(0, ts.tv_nsec))
    }

    private static let space = UInt8(ascii: " ")

    /// `<` 1-3 digits `>` with a value of at most 191.
    private static func parsePRI(_ b: [UInt8]) -> (Int, Int)? {
        guard b.first == UInt8(ascii: "<") else { return nil }
        var value = 0
        var i = 1
        while i < b.count, i <= 3, (48...57).contains(b[i]) {
            value = value * 10 + Int(b[i] - 48)
            i += 1
        }
        guard i > 1, i < b.count, b[i] == UInt8(ascii: ">"), value <= 191 else { return nil }
        return (value, i + 1)
    }

    /// A VERSION (1-999, no leading zero) followed by a space.
    private static func parseVersion(_ b: [UInt8], from start: Int) -> Int? {
        var i = start
        while i < b.count, i - start < 3, (48...57).contains(b[i]) { i += 1 }
        guard i > start, b[start] != UInt8(ascii: "0"), i < b.count, b[i] == space else { return nil }
        return i + 1
    }

    /// The token from `start` to the next space (or the end); the index after it.
    private static func token(_ b: [UInt8], from start: Int) -> (ArraySlice<UInt8>, Int) {
        var i = start
        while i < b.count, b[i] != space { i += 1 }
        return (b[start..<i], i)
    }

    private static func string(_ s: ArraySlice<UInt8>) -> String { String(decoding: s, as: UTF8.self) }

    private static func nilOrString(_ s: ArraySlice<UInt8>) -> String? {
        s.count == 1 && s.first == UInt8(ascii: "-") ? nil : string(s)
    }

    // MARK: RFC 5424

    private static func parse5424(_ b: [UInt8], from start: Int, into result: inout SyslogMessage) {
        var i = start
        var header: [ArraySlice<UInt8>] = []
        for _ in 0..<5 {
            let (t, end) = token(b, from: i)
            guard !t.isEmpty, end < b.count else { return }  // header fields are mandatory; leave it `.unknown`
            header.append(t)
            i = end + 1
        }
        // STRUCTURED-DATA: "-" or one or more [id param="value" ...] elements.
        let sdStart = i
        if i < b.count, b[i] == UInt8(ascii: "-") {
            i += 1
        } else {
            guard let end = structuredDataEnd(b, from: i) else { return }
            i = end
            result.structuredData = string(b[sdStart..<i])
        }
        guard i == b.count || b[i] == space else { return }
        result.timestamp = nilOrString(header[0])
        if result.timestamp != nil { result.timestampNanos = SyslogTimestamp.parseRFC3339(header[0]) }
        result.hostName = nilOrString(header[1])
        result.appName = nilOrString(header[2])
        result.procID = nilOrString(header[3])
        result.msgID = nilOrString(header[4])
        var messageStart = min(i + 1, b.count)
        if b.count - messageStart >= 3, b[messageStart] == 0xEF, b[messageStart + 1] == 0xBB, b[messageStart + 2] == 0xBF {
            messageStart += 3
        }
        result.message = Array(b[messageStart...])
        result.format = .rfc5424
    }

    /// The index after the last `]` of consecutive SD-ELEMENTs starting at `start`, or nil when malformed.
    private static func structuredDataEnd(_ b: [UInt8], from start: Int) -> Int? {
        var i = start
        guard i < b.count, b[i] == UInt8(ascii: "[") else { return nil }
        while i < b.count, b[i] == UInt8(ascii: "[") {
            i += 1
            var inQuotes = false
            var closed = false
            while i < b.count {
                let c = b[i]
                if inQuotes {
                    if c == UInt8(ascii: "\\") {
                        i += 2
                        continue
                    }
                    if c == UInt8(ascii: "\"") { inQuotes = false }
                } else if c == UInt8(ascii: "\"") {
                    inQuotes = true
                } else if c == UInt8(ascii: "]") {
                    closed = true
                    i += 1
                    break
                }
                i += 1
            }
            guard closed else { return nil }
        }
        return i
    }

    // MARK: RFC 3164

    private static func parse3164(_ b: [UInt8], from start: Int, receivedAt: UInt64, into result: inout SyslogMessage) {
        var i = start
        // Timestamp: BSD "Mmm dd hh:mm:ss[.frac]" (day may be space-padded) or an RFC 3339 token.
        if let end = bsdTimestampEnd(b, from: i), let nanos = SyslogTimestamp.parseBSD(b[i..<end], receivedAt: receivedAt) {
            result.timestamp = string(b[i..<end])
            result.timestampNanos = nanos
            i = end
        } else {
            let (t, end) = token(b, from: i)
            guard let nanos = SyslogTimestamp.parseRFC3339(t) else { return }
            result.timestamp = string(t)
            result.timestampNanos = nanos
            i = end
        }
        result.format = .rfc3164
        while i < b.count, b[i] == space { i += 1 }
        // HOST, unless the first token is already the TAG.
        let (first, afterFirst) = token(b, from: i)
        if !first.isEmpty, parseTag(first) == nil {
            result.hostName = string(first)
            i = afterFirst
            while i < b.count, b[i] == space { i += 1 }
        }
        let (second, afterSecond) = token(b, from: i)
        if let tag = parseTag(second) {
            result.appName = tag.app
            result.procID = tag.pid
            i = afterSecond
            if i < b.count, b[i] == space { i += 1 }
        }
        result.message = Array(b[min(i, b.count)...])
    }

    /// The end of a BSD timestamp at `start` ("Mmm dd hh:mm:ss" plus an optional ".fraction"), by shape only.
    private static func bsdTimestampEnd(_ b: [UInt8], from start: Int) -> Int? {
        // "Mmm" SP ("dd" | " d" | "d") SP "hh:mm:ss"
        guard b.count - start >= 14 else { return nil }
        var i = start + 3
        guard b[i] == space else { return nil }
        i += 1
        if b[i] == space { i += 1 }
        while i < b.count, (48...57).contains(b[i]) { i += 1 }
        guard i < b.count, b[i] == space else { return nil }
        i += 1
        let timeStart = i
        while i < b.count, (48...58).contains(b[i]) { i += 1 }  // digits and ':'
        guard i - timeStart == 8 else { return nil }
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            while i < b.count, (48...57).contains(b[i]) { i += 1 }
        }
        return i
    }

    /// `app:`, `app[pid]:` or `app[pid]` (a TAG), else nil.
    ///
    /// Written with plain indices: an earlier version built on `ArraySlice` operations crashed the Swift 6.3
    /// optimizer (a SIL verifier failure in release builds).
    private static func parseTag(_ t: ArraySlice<UInt8>) -> (app: String, pid: String?)? {
        guard !t.isEmpty, t.count <= 128 else { return nil }
        let bytes = Array(t)
        let colon = UInt8(ascii: ":")
        let open = UInt8(ascii: "[")
        let close = UInt8(ascii: "]")
        var end = bytes.count
        let hadColon = bytes[end - 1] == colon
        if hadColon { end -= 1 }
        guard end > 0 else { return nil }
        if bytes[end - 1] == close, let bracket = bytes[0..<end].firstIndex(of: open), bracket > 0 {
            let app = Array(bytes[0..<bracket])
            let pid = Array(bytes[(bracket + 1)..<(end - 1)])
            if app.contains(open) { return nil }
            return (string(app[...]), pid.isEmpty ? nil : string(pid[...]))
        }
        guard hadColon else { return nil }
        let body = Array(bytes[0..<end])
        if body.contains(open) || body.contains(colon) { return nil }
        return (string(body[...]), nil)
    }
}
