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
    let warnings = DropWarnings()
    /// Events taken from the buffer per turn.
    static let chunk = 512

    func run() async throws {
        let stopping = StopFlag()
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await ingest.runLingerTimer() }
                // Apart from the drain loop: the buffer fills precisely when that loop waits for the spool.
                group.addTask { await reportDropsPeriodically() }
                try await withGracefulShutdownHandler {
                    try await drain(until: stopping)
                } onGracefulShutdown: {
                    stopping.set()
                    buffer.wake()
                }
                // Whatever arrived up to now is stored; later log calls are dropped and counted.
                buffer.close()
                try await store(buffer.take(limit: .max))
                reportDrops(force: true)
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
        while !stopping.isSet {
            try Task.checkCancellation()
            let events = buffer.take(limit: Self.chunk)
            if events.isEmpty {
                await buffer.waitForEvents()
            } else {
                try await store(events)
            }
        }
    }

    private func store(_ events: [Event]) async throws {
        try await ingest.add(contentsOf: events)
    }

    /// Every second until cancelled, counts new drops; warns at most once per ``warningInterval``.
    private func reportDropsPeriodically() async {
        while true {
            do {
                try await Task.sleep(for: .seconds(1))
            } catch {
                return
            }
            reportDrops(force: false)
        }
    }

    /// Counts the drops since the last call in `logferry_logging_dropped_events_total` and, when a warning is due
    /// (or `force`), writes the ones not yet warned about to standard error.
    private func reportDrops(force: Bool) {
        let new = buffer.takeNewDrops()
        if new.all > 0 { dropped.increment(by: Int64(clamping: new.all)) }
        guard let (all, afterClose) = warnings.add(new, interval: warningInterval, force: force) else { return }
        var reasons: [String] = []
        if all > afterClose {
            reasons.append("\(all - afterClose) because the log buffer (\(buffer.capacity) events, policy "
                + "\(buffer.policy.rawValue)) was full: the spool took events slower than the application logged them")
        }
        if afterClose > 0 {
            reasons.append("\(afterClose) logged after the LogFerryLoggingService stopped")
        }
        let line = "LogFerryLogging: dropped \(all) log events (\(buffer.dropped) in all): \(reasons.joined(separator: "; ")). "
            + "Counted in logferry_logging_dropped_events_total.\n"
        FileHandle.standardError.write(Data(line.utf8))
    }
}

/// The drops not yet warned about, and when the last warning was written: the rate limit of the drop warning.
final class DropWarnings: @unchecked Sendable {
    private let lock = NSLock()
    private var pending: (all: UInt64, afterClose: UInt64) = (0, 0)
    private var lastWarning: ContinuousClock.Instant?

    /// Adds `new` drops; returns the drops to warn about now (and forgets them), or nil when none are pending or
    /// the last warning is younger than `interval` (unless `force`).
    func add(_ new: (all: UInt64, afterClose: UInt64), interval: Duration, force: Bool) -> (UInt64, UInt64)? {
        lock.withLock {
            pending.all += new.all
            pending.afterClose += new.afterClose
            guard pending.all > 0 else { return nil }
            let now = ContinuousClock.now
            guard force || lastWarning.map({ now - $0 >= interval }) ?? true else { return nil }
            lastWarning = now
            defer { pending = (0, 0) }
            return pending
        }
    }
}

/// A flag set once from the graceful-shutdown handler and read by the drain loop.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false

    var isSet: Bool { lock.withLock { value } }

    func set() { lock.withLock { value = true } }
}
