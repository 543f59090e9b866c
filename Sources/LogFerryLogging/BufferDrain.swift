import Foundation
import LogFerryNode
import LogFerryWire
import Logging
import Metrics
import ServiceLifecycle

/// The one task that moves events from the handlers' buffer into the spool (through a `SpoolIngest`, which
/// batches, seals and appends them): the node's source. It also reports drops: a counter and a warning on standard
/// error at most every ``warningInterval``, written directly, never through the log handler itself.
///
/// On graceful shutdown it closes the buffer, stores everything still in it, seals the open batch and returns, so
/// the node can wait for the upstream's acks.
struct BufferDrain: Service {
    let buffer: LogEventBuffer
    let ingest: SpoolIngest
    let warningInterval: Duration
    let dropped = Counter(label: "logferry_logging_dropped_events_total")
    /// Events taken from the buffer per turn.
    static let chunk = 512

    func run() async throws {
        let stopping = StopFlag()
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await ingest.runLingerTimer() }
                try await withGracefulShutdownHandler {
                    try await drain(until: stopping)
                } onGracefulShutdown: {
                    stopping.set()
                    buffer.wake()
                }
                // Whatever arrived up to now is stored; later log calls are dropped and counted.
                buffer.close()
                try await store(buffer.take(limit: .max))
                reportDrops()
                group.cancelAll()
                try await group.waitForAll()
            }
        } catch {
            buffer.close()
            await ingest.finish()
            throw error
        }
        await ingest.finish()
    }

    /// Moves events into the ingest until `stopping` is set (graceful shutdown) or the task is cancelled.
    private func drain(until stopping: StopFlag) async throws {
        var lastWarning: ContinuousClock.Instant?
        while !stopping.isSet {
            try Task.checkCancellation()
            let events = buffer.take(limit: Self.chunk)
            if events.isEmpty {
                await buffer.waitForEvents()
            } else {
                try await store(events)
            }
            if lastWarning.map({ ContinuousClock.now - $0 >= warningInterval }) ?? true, reportDrops() {
                lastWarning = .now
            }
        }
    }

    private func store(_ events: [Event]) async throws {
        try await ingest.add(contentsOf: events)
    }

    /// Counts new drops and, if there were any, warns on standard error. Returns whether it warned.
    @discardableResult
    private func reportDrops() -> Bool {
        let new = buffer.takeNewDrops()
        guard new.all > 0 else { return false }
        dropped.increment(by: Int64(clamping: new.all))
        var reasons: [String] = []
        if new.all > new.afterClose {
            reasons.append("\(new.all - new.afterClose) because the log buffer (\(buffer.capacity) events, policy "
                + "\(buffer.policy.rawValue)) was full: the spool took events slower than the application logged them")
        }
        if new.afterClose > 0 {
            reasons.append("\(new.afterClose) logged after the LogFerryLoggingService stopped")
        }
        let line = "LogFerryLogging: dropped \(new.all) log events (\(buffer.dropped) in all): \(reasons.joined(separator: "; ")). "
            + "Counted in logferry_logging_dropped_events_total.\n"
        FileHandle.standardError.write(Data(line.utf8))
        return true
    }
}

/// A flag set once from the graceful-shutdown handler and read by the drain loop.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false

    var isSet: Bool { lock.withLock { value } }

    func set() { lock.withLock { value = true } }
}
