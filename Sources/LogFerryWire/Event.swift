/// One log event: a line read from a source at a moment, with optional structured fields.
///
/// The line is raw bytes, not necessarily UTF-8, and may hold embedded newlines (a multi-line stack
/// trace is one event). Fields carry small key/value pairs a source knows about the line, such as the
/// syslog host or app name; the batch codec writes them sorted by key, so equal events encode equally.
public struct Event: Sendable, Hashable {
    /// When the line was read, in nanoseconds since the Unix epoch.
    public var timestamp: UInt64
    /// Where the line came from: a file path, `stdin`, `syslog`, ...
    public var source: String
    /// The line itself, without its terminating newline.
    public var line: [UInt8]
    /// Structured fields attached by the source (e.g. syslog `host`, `app`); usually empty.
    public var fields: [String: String]

    /// Creates an event from its parts.
    public init(timestamp: UInt64, source: String, line: [UInt8], fields: [String: String] = [:]) {
        self.timestamp = timestamp
        self.source = source
        self.line = line
        self.fields = fields
    }
}
