import Foundation
import Logging
import Synchronization
@testable import LogFerryNode

#if canImport(Glibc)
import Glibc
#endif

/// A temporary directory removed at the end of the test.
final class TemporaryDirectory {
    let path: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/logferry-tail-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ $0.baseAddress.flatMap { mkdtemp($0) } }) else {
            throw POSIXError(.EIO)
        }
        path = String(cString: made)
        chmod(path, 0o755)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    func file(_ name: String) -> String { path + "/" + name }
}

/// Appends bytes to a file, creating it if needed.
func append(_ text: String, to path: String) throws {
    try append(Array(text.utf8), to: path)
}

func append(_ bytes: [UInt8], to path: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
    guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    defer { close(fd) }
    var written = 0
    while written < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, bytes.count - written) }
        guard n > 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        written += n
    }
}

/// A clock the test moves by hand.
final class ManualClock {
    var instant = ContinuousClock.now

    func advance(by duration: Duration) { instant = instant + duration }
}

/// Collects log messages, to check that a condition is logged once.
final class LogCapture: Sendable {
    let messages = Mutex<[String]>([])

    func logger() -> Logger {
        Logger(label: "test") { _ in Handler(capture: self) }
    }

    struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            capture.messages.withLock { $0.append("\(event.level) \(event.message) \(event.metadata ?? [:])") }
        }
    }
}

extension FileTailer {
    /// A tailer for tests: manual clock, no inotify.
    static func forTesting(
        _ configuration: FileTailerConfiguration,
        checkpoints: [FileCheckpoint] = [],
        clock: ManualClock,
        logger: Logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
    ) -> FileTailer {
        FileTailer(configuration: configuration, checkpoints: checkpoints, logger: logger, useInotify: false) {
            clock.instant
        }
    }

    /// Polls until nothing more comes, moving the clock past a rescan between rounds.
    func drain(clock: ManualClock, rounds: Int = 3) -> [TailedLine] {
        var all: [TailedLine] = []
        var quiet = 0
        while quiet < rounds {
            let lines = poll(maxLines: 10_000, maxBytes: 64 << 20)
            if lines.isEmpty {
                quiet += 1
                clock.advance(by: configuration.rescanInterval)
            } else {
                quiet = 0
                all += lines
            }
        }
        return all
    }
}

extension [TailedLine] {
    var texts: [String] { map { String(decoding: $0.line, as: UTF8.self) } }
}
