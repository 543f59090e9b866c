import Foundation
import LogFerrySpool
import LogFerryWire
import Logging
import ServiceLifecycle
import Metrics

/// Writes every event of the spool to standard output, raw or as JSON lines.
///
/// At-least-once: standard output cannot be cut back after a crash, so events written after the last
/// commit are written again on restart. The cursor is committed after every batch written.
public final class StdoutSink: Service, Sendable {
    let spool: Spool
    let format: EventFormat
    let cursorName: String
    let logger: Logger
    let eventsOut = Counter(label: "logferry_stdout_sink_events_total")

    /// Creates a stdout sink over `spool`.
    public init(spool: Spool, format: EventFormat, cursorName: String = "stdout", logger: Logger) {
        self.spool = spool
        self.format = format
        self.cursorName = cursorName
        self.logger = logger
    }

    /// Writes until cancelled.
    public func run() async throws {
        let position = try await spool.cursor(named: cursorName)
        let reader = spool.makeReader(from: position.committed + 1)
        var decoder = BatchDecoder(limits: BatchSplitter.localLimits)
        var out: [UInt8] = []
        do {
            while let record = try await reader.next() {
                out.removeAll(keepingCapacity: true)
                do {
                    let batch = try decoder.decode(try SealedBatch(serialized: record.payload))
                    for event in batch.events { format.append(event, host: batch.host, to: &out) }
                    eventsOut.increment(by: Int64(batch.events.count))
                } catch {
                    logger.error("stdout sink: spool record \(record.sequence) does not decode (\(error)); skipping it")
                }
                out.withUnsafeBytes { buffer in
                    var offset = 0
                    while offset < buffer.count, let base = buffer.baseAddress {
                        let n = write(STDOUT_FILENO, base + offset, buffer.count - offset)
                        if n <= 0 { if errno == EINTR { continue }; break }
                        offset += n
                    }
                }
                try await spool.commit(cursor: cursorName, through: record.sequence)
            }
        } catch is CancellationError {
        }
    }
}
