/// One syslog message: the raw bytes as received (what the agent ships as the line) plus what could be parsed.
struct SyslogMessage: Sendable, Hashable {
    /// Which syslog format the message was recognised as.
    enum Format: Sendable, Hashable {
        /// RFC 5424: `<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG`.
        case rfc5424
        /// RFC 3164 (BSD syslog): `<PRI>Mmm dd hh:mm:ss HOST TAG[pid]: MSG`, with the usual variations.
        case rfc3164
        /// Not parseable as either; `raw` is all there is (a `<PRI>` may still have been read).
        case unknown
    }

    /// The message exactly as received, without its framing (octet count, trailing newline).
    var raw: [UInt8]
    /// Facility (0...23) from `<PRI>`.
    var facility: UInt8?
    /// Severity (0...7) from `<PRI>`.
    var severity: UInt8?
    /// The timestamp as sent.
    var timestamp: String?
    /// The timestamp in nanoseconds since the Unix epoch, when it parses. RFC 3164 timestamps carry neither year nor
    /// zone: they are read in the receiver's local time zone, in the year that puts them closest before receipt.
    var timestampNanos: UInt64?
    /// HOSTNAME (RFC 5424) or the host field of RFC 3164.
    var hostName: String?
    /// APP-NAME (RFC 5424) or the TAG of RFC 3164.
    var appName: String?
    /// PROCID (RFC 5424) or the `[pid]` of an RFC 3164 TAG.
    var procID: String?
    /// MSGID (RFC 5424 only).
    var msgID: String?
    /// STRUCTURED-DATA as sent (RFC 5424 only, nil for `-`).
    var structuredData: String?
    /// The MSG part (after the header), without a leading UTF-8 BOM.
    var message: [UInt8]
    /// The recognised format.
    var format: Format

    /// Makes a message; usually made by ``SyslogParser/parse(_:receivedAt:)``.
    init(
        raw: [UInt8],
        facility: UInt8? = nil,
        severity: UInt8? = nil,
        timestamp: String? = nil,
        timestampNanos: UInt64? = nil,
        hostName: String? = nil,
        appName: String? = nil,
        procID: String? = nil,
        msgID: String? = nil,
        structuredData: String? = nil,
        message: [UInt8]? = nil,
        format: Format = .unknown
    ) {
        self.raw = raw
        self.facility = facility
        self.severity = severity
        self.timestamp = timestamp
        self.timestampNanos = timestampNanos
        self.hostName = hostName
        self.appName = appName
        self.procID = procID
        self.msgID = msgID
        self.structuredData = structuredData
        self.message = message ?? raw
        self.format = format
    }

    /// The parsed parts as event fields: `syslog.host`, `syslog.app`, `syslog.timestamp`, `syslog.facility` and
    /// `syslog.severity` (names such as `local0`, `err`), `syslog.procid`, `syslog.msgid`; only those present.
    var fields: [String: String] {
        var result: [String: String] = [:]
        if let hostName { result["syslog.host"] = hostName }
        if let appName { result["syslog.app"] = appName }
        if let timestamp { result["syslog.timestamp"] = timestamp }
        if let facility { result["syslog.facility"] = Self.facilityName(facility) }
        if let severity { result["syslog.severity"] = Self.severityName(severity) }
        if let procID { result["syslog.procid"] = procID }
        if let msgID { result["syslog.msgid"] = msgID }
        return result
    }

    private static let facilityNames = [
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp",
        "ntp", "security", "console", "solaris-cron", "local0", "local1", "local2", "local3", "local4", "local5",
        "local6", "local7",
    ]
    private static let severityNames = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"]

    /// The conventional name of a facility number (`local0`), or the number itself when out of range.
    static func facilityName(_ facility: UInt8) -> String {
        Int(facility) < facilityNames.count ? facilityNames[Int(facility)] : String(facility)
    }

    /// The conventional name of a severity number (`err`), or the number itself when out of range.
    static func severityName(_ severity: UInt8) -> String {
        Int(severity) < severityNames.count ? severityNames[Int(severity)] : String(severity)
    }
}
