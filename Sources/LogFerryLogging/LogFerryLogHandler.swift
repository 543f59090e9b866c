#if canImport(Glibc)
import Glibc
#endif
import LogFerryWire
import Logging

/// A swift-log `LogHandler` that ships an application's own logs through LogFerry, without an agent.
///
/// Each log call becomes one event: the message is the line, the logger's label is the event source, and the
/// level, the label, the metadata (the handler's, the provider's and the call's) and the source location
/// (`file`, `function`, `line`, `source` module) become event fields, plus `error` when the call passes one. A
/// metadata key that collides with one of those names is kept as `metadata.KEY`.
///
/// A log call never waits on the disk or the network: it appends to the bounded in-memory buffer of its
/// ``LogFerryLoggingService`` and returns; the service's one drain task batches the events into the spool and its
/// ferry sink ships them. When the buffer is full the service's ``BufferOverflowPolicy`` applies.
///
/// Make handlers with ``LogFerryLoggingService/makeLogHandler(label:)``, usually in `LoggingSystem.bootstrap`.
public struct LogFerryLogHandler: LogHandler {
    /// The logger's label; the event source.
    public let label: String
    /// Messages below this level are not logged.
    public var logLevel: Logger.Level = .info
    /// Metadata added to every event of this logger.
    public var metadata: Logger.Metadata = [:]
    /// Metadata computed at each log call (trace ids and the like).
    public var metadataProvider: Logger.MetadataProvider?
    let buffer: LogEventBuffer

    init(label: String, buffer: LogEventBuffer, metadataProvider: Logger.MetadataProvider?) {
        self.label = label
        self.buffer = buffer
        self.metadataProvider = metadataProvider
    }

    /// One metadata entry of this logger.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// The field names the handler sets itself; metadata under these names is kept as `metadata.NAME`.
    static let reservedFields: Set<String> = ["level", "label", "file", "function", "line", "source", "error"]

    /// Appends the event to the buffer (or drops it per policy); never blocks unless the policy is `block`.
    public func log(event: LogEvent) {
        var fields: [String: String] = [
            "level": event.level.rawValue, "label": label,
            "file": event.file, "function": event.function, "line": String(event.line), "source": event.source,
        ]
        if let error = event.error { fields["error"] = "\(error)" }
        var merged = self.metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let explicit = event.metadata { merged.merge(explicit) { $1 } }
        for (key, value) in merged {
            fields[Self.reservedFields.contains(key) ? "metadata." + key : key] = "\(value)"
        }
        buffer.offer(Event(timestamp: Self.now(), source: label, line: Array(event.message.description.utf8), fields: fields))
    }

    /// Nanoseconds since the Unix epoch.
    static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UInt64(max(0, spec.tv_sec)) &* 1_000_000_000 &+ UInt64(max(0, spec.tv_nsec))
    }
}
