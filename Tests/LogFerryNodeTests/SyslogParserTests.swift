import Foundation
import LogFerryTestSupport
import Testing
@testable import LogFerryNode

@Suite("SyslogParser")
struct SyslogParserTests {
    /// One parser expectation; nil fields are expected to be nil.
    struct Case {
        var input: String
        var format: SyslogMessage.Format
        var facility: UInt8?
        var severity: UInt8?
        var timestamp: String?
        var nanos: UInt64?
        var host: String?
        var app: String?
        var procID: String?
        var msgID: String?
        var structuredData: String?
        var message: String
    }

    func check(_ c: Case, receivedAt: UInt64 = SyslogParser.currentTimeNanos()) {
        let m = SyslogParser.parse(Array(c.input.utf8), receivedAt: receivedAt)
        #expect(m.raw == Array(c.input.utf8), "\(c.input)")
        #expect(m.format == c.format, "\(c.input)")
        #expect(m.facility == c.facility, "\(c.input)")
        #expect(m.severity == c.severity, "\(c.input)")
        #expect(m.timestamp == c.timestamp, "\(c.input)")
        if let nanos = c.nanos { #expect(m.timestampNanos == nanos, "\(c.input)") }
        #expect(m.hostName == c.host, "\(c.input)")
        #expect(m.appName == c.app, "\(c.input)")
        #expect(m.procID == c.procID, "\(c.input)")
        #expect(m.msgID == c.msgID, "\(c.input)")
        #expect(m.structuredData == c.structuredData, "\(c.input)")
        #expect(String(decoding: m.message, as: UTF8.self) == c.message, "\(c.input)")
    }

    @Test("RFC 5424: the RFC's examples and what logger --rfc5424 sends")
    func rfc5424() {
        let cases: [Case] = [
            Case(
                input: "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \u{FEFF}'su root' failed for lonvick on /dev/pts/8",
                format: .rfc5424, facility: 4, severity: 2, timestamp: "2003-10-11T22:14:15.003Z", nanos: 1_065_910_455_003_000_000,
                host: "mymachine.example.com", app: "su", procID: nil, msgID: "ID47", structuredData: nil,
                message: "'su root' failed for lonvick on /dev/pts/8"
            ),
            Case(
                input: "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
                format: .rfc5424, facility: 20, severity: 5, timestamp: "2003-08-24T05:14:15.000003-07:00",
                nanos: 1_061_727_255_000_003_000, host: "192.0.2.1", app: "myproc", procID: "8710", msgID: nil,
                structuredData: nil, message: "%% It's time to make the do-nuts."
            ),
            Case(
                input: #"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"] An application event"#,
                format: .rfc5424, facility: 20, severity: 5, timestamp: "2003-10-11T22:14:15.003Z", nanos: 1_065_910_455_003_000_000,
                host: "mymachine.example.com", app: "evntslog", procID: nil, msgID: "ID47",
                structuredData: #"[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]"#,
                message: "An application event"
            ),
            Case(
                input: #"<13>1 2026-11-26T15:17:19.807053+00:00 vm root - - [timeQuality tzKnown="1" isSynced="0"] hello world"#,
                format: .rfc5424, facility: 1, severity: 5, timestamp: "2026-11-26T15:17:19.807053+00:00", nanos: nil,
                host: "vm", app: "root", procID: nil, msgID: nil, structuredData: #"[timeQuality tzKnown="1" isSynced="0"]"#,
                message: "hello world"
            ),
            Case(
                input: #"<13>1 1985-04-12T19:20:50.52-04:00 h a p m [x@1 v="a \"quoted\] value"] body ]["#,
                format: .rfc5424, facility: 1, severity: 5, timestamp: "1985-04-12T19:20:50.52-04:00", nanos: 482_196_050_520_000_000,
                host: "h", app: "a", procID: "p", msgID: "m", structuredData: #"[x@1 v="a \"quoted\] value"]"#, message: "body ]["
            ),
            Case(
                input: "<0>1 - - - - - -", format: .rfc5424, facility: 0, severity: 0, timestamp: nil, nanos: nil, host: nil,
                app: nil, procID: nil, msgID: nil, structuredData: nil, message: ""
            ),
            Case(
                input: "<191>1 not-a-time host app - - - msg", format: .rfc5424, facility: 23, severity: 7, timestamp: "not-a-time",
                nanos: nil, host: "host", app: "app", procID: nil, msgID: nil, structuredData: nil, message: "msg"
            ),
        ]
        for c in cases { check(c) }
        #expect(SyslogParser.parse(Array("<13>1 not-a-time h a - - - m".utf8)).timestampNanos == nil)
        #expect(SyslogTimestamp.parseRFC3339(ArraySlice("1996-12-19T16:39:57-08:00".utf8)) == 851_042_397_000_000_000)
        #expect(SyslogTimestamp.parseRFC3339(ArraySlice("2024-02-29T00:00:00Z".utf8)) == 1_709_164_800_000_000_000)
        #expect(SyslogTimestamp.parseRFC3339(ArraySlice("2023-02-29T00:00:00Z".utf8)) == nil)
        #expect(SyslogTimestamp.parseRFC3339(ArraySlice("2023-01-01T25:00:00Z".utf8)) == nil)
        #expect(SyslogTimestamp.parseRFC3339(ArraySlice("2023-01-01T00:00:00".utf8)) == nil)
    }

    @Test("RFC 3164 and its common variants (logger --rfc3164, no host, pid, fractions, RFC 3339 time)")
    func rfc3164() throws {
        let cases: [Case] = [
            Case(
                input: "<13>Nov 26 15:17:19 vm root: hello world", format: .rfc3164, facility: 1, severity: 5,
                timestamp: "Nov 26 15:17:19", host: "vm", app: "root", message: "hello world"
            ),
            Case(
                input: "<13>Nov 26 15:17:19 vm myapp[42]: hello world", format: .rfc3164, facility: 1, severity: 5,
                timestamp: "Nov 26 15:17:19", host: "vm", app: "myapp", procID: "42", message: "hello world"
            ),
            Case(
                input: "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8", format: .rfc3164,
                facility: 4, severity: 2, timestamp: "Oct 11 22:14:15", host: "mymachine", app: "su",
                message: "'su root' failed for lonvick on /dev/pts/8"
            ),
            Case(
                input: "<38>Feb  5 17:32:18 sshd[123]: Accepted publickey", format: .rfc3164, facility: 4, severity: 6,
                timestamp: "Feb  5 17:32:18", host: nil, app: "sshd", procID: "123", message: "Accepted publickey"
            ),
            Case(
                input: "<38>Feb 05 17:32:18.123 host kernel: x", format: .rfc3164, facility: 4, severity: 6,
                timestamp: "Feb 05 17:32:18.123", host: "host", app: "kernel", message: "x"
            ),
            Case(
                input: "<13>2003-10-11T22:14:15.003Z host app[7] text", format: .rfc3164, facility: 1, severity: 5,
                timestamp: "2003-10-11T22:14:15.003Z", nanos: 1_065_910_455_003_000_000, host: "host", app: "app", procID: "7",
                message: "text"
            ),
            Case(
                input: "<13>Feb  5 17:32:18 host just some text", format: .rfc3164, facility: 1, severity: 5,
                timestamp: "Feb  5 17:32:18", host: "host", app: nil, message: "just some text"
            ),
        ]
        for c in cases { check(c) }
    }

    @Test("RFC 3164 timestamps take the year that puts them just before receipt, in local time")
    func bsdYear() throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .current
        func nanos(_ y: Int, _ mo: Int, _ d: Int, _ h: Int, _ mi: Int, _ s: Int) throws -> UInt64 {
            let date = try #require(calendar.date(from: DateComponents(year: y, month: mo, day: d, hour: h, minute: mi, second: s)))
            return UInt64(date.timeIntervalSince1970) * 1_000_000_000
        }
        let march = try nanos(2024, 3, 10, 12, 0, 0)
        #expect(SyslogParser.parse(Array("<13>Mar 10 11:00:00 h a: m".utf8), receivedAt: march).timestampNanos == (try nanos(2024, 3, 10, 11, 0, 0)))
        let newYear = try nanos(2025, 1, 1, 0, 30, 0)
        #expect(SyslogParser.parse(Array("<13>Dec 31 23:59:00 h a: m".utf8), receivedAt: newYear).timestampNanos == (try nanos(2024, 12, 31, 23, 59, 0)))
        let withFraction = SyslogParser.parse(Array("<13>Mar 10 11:00:00.25 h a: m".utf8), receivedAt: march)
        #expect(withFraction.timestampNanos == (try nanos(2024, 3, 10, 11, 0, 0)) + 250_000_000)
    }

    @Test("malformed messages keep their raw bytes and never trap")
    func malformed() {
        let unknown: [(String, UInt8?, String)] = [
            ("", nil, ""),
            ("hello", nil, "hello"),
            ("<999>x", nil, "<999>x"),
            ("<13", nil, "<13"),
            ("<>x", nil, "<>x"),
            ("<13>", 1, ""),
            ("<13>garbage text", 1, "garbage text"),
            ("<13>1 2003-10-11T22:14:15Z host", 1, "1 2003-10-11T22:14:15Z host"),
            ("<13>1 - h a p m [unterminated sd", 1, "1 - h a p m [unterminated sd"),
            ("<13>Feb 30 99:99:99 h a: m", 1, "Feb 30 99:99:99 h a: m"),
        ]
        for (input, facility, message) in unknown {
            let m = SyslogParser.parse(Array(input.utf8))
            #expect(m.format == .unknown, "\(input)")
            #expect(m.raw == Array(input.utf8))
            #expect(m.facility == facility, "\(input)")
            #expect(String(decoding: m.message, as: UTF8.self) == message, "\(input)")
            #expect(m.hostName == nil && m.appName == nil)
        }
        var generator = SystemRandomNumberGenerator()
        let prefixes: [[UInt8]] = [[], Array("<13>".utf8), Array("<13>1 ".utf8), Array("<13>Jan  1 00:00:00 ".utf8)]
        for i in 0..<4000 {
            let junk = generator.bytes(Int.random(in: 0..<80, using: &generator))
            let input = prefixes[i % prefixes.count] + junk
            #expect(SyslogParser.parse(input).raw == input)
        }
    }

    @Test("fields carry the parsed parts under syslog.* keys")
    func fields() {
        let m = SyslogParser.parse(Array("<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 ID1 - x".utf8))
        #expect(
            m.fields == [
                "syslog.host": "192.0.2.1", "syslog.app": "myproc", "syslog.timestamp": "2003-08-24T05:14:15.000003-07:00",
                "syslog.facility": "local4", "syslog.severity": "notice", "syslog.procid": "8710", "syslog.msgid": "ID1",
            ]
        )
        #expect(SyslogParser.parse(Array("plain".utf8)).fields.isEmpty)
    }
}
