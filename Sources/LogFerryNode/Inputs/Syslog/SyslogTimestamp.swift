#if canImport(Glibc)
import Glibc
#endif

/// Timestamp parsing for syslog: RFC 3339 (RFC 5424, and RFC 3164 senders that use it) and the BSD
/// `Mmm dd hh:mm:ss` form.
enum SyslogTimestamp {
    /// Parses `YYYY-MM-DDThh:mm:ss[.fraction](Z|+hh:mm|-hh:mm)`; nil when malformed or before 1970.
    static func parseRFC3339(_ s: ArraySlice<UInt8>) -> UInt64? {
        var p = Cursor(bytes: s)
        guard let year = p.digits(4), p.expect(UInt8(ascii: "-")),
            let month = p.digits(2), p.expect(UInt8(ascii: "-")),
            let day = p.digits(2), p.expect(any: [UInt8(ascii: "T"), UInt8(ascii: "t"), UInt8(ascii: " ")]),
            let hour = p.digits(2), p.expect(UInt8(ascii: ":")),
            let minute = p.digits(2), p.expect(UInt8(ascii: ":")),
            let second = p.digits(2)
        else { return nil }
        guard (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day), hour < 24, minute < 60,
            second <= 60
        else { return nil }
        var nanos: Int64 = 0
        if p.expect(UInt8(ascii: ".")) {
            guard let fraction = p.fraction() else { return nil }
            nanos = fraction
        }
        var offsetSeconds: Int64 = 0
        guard let zone = p.next() else { return nil }
        switch zone {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"): break
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard let oh = p.digits(2), p.expect(UInt8(ascii: ":")), let om = p.digits(2), oh < 24, om < 60 else {
                return nil
            }
            offsetSeconds = (oh * 3600 + om * 60) * (zone == UInt8(ascii: "+") ? 1 : -1)
        default: return nil
        }
        guard p.isAtEnd else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        guard seconds >= 0, seconds < Int64.max / 1_000_000_000 - 1 else { return nil }
        return UInt64(seconds) * 1_000_000_000 + UInt64(nanos)
    }

    /// Parses the BSD form `Mmm dd hh:mm:ss[.fraction]` (day space- or zero-padded) in the local time zone, in the
    /// year that puts it at most a day after `receivedAt` (so December messages read in January are last year's).
    static func parseBSD(_ s: ArraySlice<UInt8>, receivedAt: UInt64) -> UInt64? {
        var p = Cursor(bytes: s)
        guard let month = p.monthName(), p.expect(UInt8(ascii: " ")) else { return nil }
        _ = p.expect(UInt8(ascii: " "))
        guard let day = p.digits(1...2), p.expect(UInt8(ascii: " ")),
            let hour = p.digits(2), p.expect(UInt8(ascii: ":")),
            let minute = p.digits(2), p.expect(UInt8(ascii: ":")),
            let second = p.digits(2),
            (1...31).contains(day), hour < 24, minute < 60, second <= 60
        else { return nil }
        var nanos: Int64 = 0
        if p.expect(UInt8(ascii: ".")) {
            guard let fraction = p.fraction() else { return nil }
            nanos = fraction
        }
        guard p.isAtEnd else { return nil }
        var now = time_t(receivedAt / 1_000_000_000)
        var local = tm()
        guard localtime_r(&now, &local) != nil else { return nil }
        func epoch(year: Int32) -> Int64? {
            var t = tm()
            t.tm_year = year
            t.tm_mon = Int32(month - 1)
            t.tm_mday = Int32(day)
            t.tm_hour = Int32(hour)
            t.tm_min = Int32(minute)
            t.tm_sec = Int32(second)
            t.tm_isdst = -1
            let result = mktime(&t)
            return result == -1 ? nil : Int64(result)
        }
        guard var seconds = epoch(year: local.tm_year) else { return nil }
        if seconds > Int64(now) + 86_400, let previous = epoch(year: local.tm_year - 1) { seconds = previous }
        guard seconds >= 0 else { return nil }
        return UInt64(seconds) * 1_000_000_000 + UInt64(nanos)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    private struct Cursor {
        let bytes: ArraySlice<UInt8>
        var index: Int

        init(bytes: ArraySlice<UInt8>) {
            self.bytes = bytes
            self.index = bytes.startIndex
        }

        var isAtEnd: Bool { index == bytes.endIndex }

        mutating func next() -> UInt8? {
            guard index < bytes.endIndex else { return nil }
            defer { index += 1 }
            return bytes[index]
        }

        mutating func expect(_ byte: UInt8) -> Bool {
            guard index < bytes.endIndex, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        mutating func expect(any options: [UInt8]) -> Bool {
            guard index < bytes.endIndex, options.contains(bytes[index]) else { return false }
            index += 1
            return true
        }

        mutating func digits(_ count: Int) -> Int64? { digits(count...count) }

        mutating func digits(_ range: ClosedRange<Int>) -> Int64? {
            var value: Int64 = 0
            var n = 0
            while n < range.upperBound, index < bytes.endIndex, (48...57).contains(bytes[index]) {
                value = value * 10 + Int64(bytes[index] - 48)
                index += 1
                n += 1
            }
            return n >= range.lowerBound ? value : nil
        }

        /// Up to 9 fraction digits as nanoseconds; further digits are read and ignored.
        mutating func fraction() -> Int64? {
            var value: Int64 = 0
            var n = 0
            while index < bytes.endIndex, (48...57).contains(bytes[index]) {
                if n < 9 { value = value * 10 + Int64(bytes[index] - 48) }
                index += 1
                n += 1
            }
            guard n > 0 else { return nil }
            for _ in n..<max(n, 9) { value *= 10 }
            return value
        }

        private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
            .map { Array($0.utf8) }

        mutating func monthName() -> Int64? {
            guard bytes.endIndex - index >= 3 else { return nil }
            let candidate = Array(bytes[index..<index + 3])
            guard let m = Self.months.firstIndex(of: candidate) else { return nil }
            index += 3
            return Int64(m + 1)
        }
    }
}
