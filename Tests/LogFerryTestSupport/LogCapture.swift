import Logging
import Synchronization

/// A swift-log destination that keeps every message, so a test can check or wait for what a component logged
/// without touching the global logging system.
public final class LogCapture: Sendable {
    private struct Entry {
        var level: Logger.Level
        var message: String
        var metadata: Logger.Metadata
    }

    private let entries = Mutex<[Entry]>([])

    /// An empty capture.
    public init() {}

    /// A handler writing into this capture (at `.info` until its logger sets a level).
    public func handler() -> CapturingLogHandler { CapturingLogHandler(capture: self) }

    /// A logger writing every message, down to `.trace`, into this capture.
    public func logger(label: String = "test") -> Logger {
        Logger(label: label) { _ in CapturingLogHandler(capture: self, logLevel: .trace) }
    }

    func record(_ event: LogEvent) {
        entries.withLock { $0.append(Entry(level: event.level, message: "\(event.message)", metadata: event.metadata ?? [:])) }
    }

    /// The messages at `level` or above so far.
    public func messages(atLeast level: Logger.Level) -> [String] {
        entries.withLock { $0.filter { $0.level >= level }.map(\.message) }
    }

    /// Every message so far as `LEVEL MESSAGE METADATA`, for checks on what a message carried.
    public var lines: [String] {
        entries.withLock { $0.map { "\($0.level) \($0.message) \($0.metadata)" } }
    }

    /// Waits until at least `count` messages at `level` or above have been logged, or fails after `deadline`.
    public func waitFor(_ count: Int, atLeast level: Logger.Level, deadline: Duration) async throws -> [String] {
        try await withDeadline(deadline, "\(count) log messages at \(level) or above") {
            while self.messages(atLeast: level).count < count {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        return messages(atLeast: level)
    }
}

/// The handler behind ``LogCapture``: hands every message to its capture.
public struct CapturingLogHandler: LogHandler {
    let capture: LogCapture
    /// The handler's metadata (not recorded: only each message's own metadata is).
    public var metadata: Logger.Metadata = [:]
    /// The lowest level passed on to the capture.
    public var logLevel: Logger.Level = .info

    init(capture: LogCapture, logLevel: Logger.Level = .info) {
        self.capture = capture
        self.logLevel = logLevel
    }

    /// Metadata of the handler by key.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Records the message in the capture.
    public func log(event: LogEvent) {
        capture.record(event)
    }
}
