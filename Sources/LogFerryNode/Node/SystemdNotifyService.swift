import LogFerrySpool
import LogFerrySystemd
import Logging
import Synchronization
import ServiceLifecycle

/// Tells systemd how the node is doing (`Type=notify` units): `READY=1` once every start-up step of
/// ``NodeReadiness`` is done, `WATCHDOG=1` from the node's own health loop while the node makes progress, and
/// `STOPPING=1` when a graceful shutdown begins.
///
/// The health loop is two tasks: one runs the probe (by default ``spoolProbe(_:)``, a round trip through the spool
/// actor) over and over; the other sends `WATCHDOG=1` every half watchdog timeout,
/// but only while a probe has completed within the last half timeout. A node whose spool stops answering, or
/// whose cooperative threads are all blocked, stops petting, and systemd restarts it after `WatchdogSec=`.
///
/// Run it as the last service of the group: the group shuts services down in reverse order, so `STOPPING=1`
/// goes out as soon as the shutdown begins (systemd stops the watchdog for a stopping unit).
public struct SystemdNotifyService: Service {
    let notifier: any ServiceManagerNotifying
    let readiness: NodeReadiness
    let watchdogTimeout: Duration?
    let probe: @Sendable () async throws -> Void
    let logger: Logger
    private let sendFailures = SendFailures()

    /// Creates the service.
    ///
    /// - Parameters:
    ///   - notifier: where notifications go (``LogFerrySystemd/SystemdNotifier/fromEnvironment()``).
    ///   - readiness: the start-up steps awaited before `READY=1`.
    ///   - watchdogTimeout: systemd's watchdog timeout (`WATCHDOG_USEC`), nil when the watchdog is off.
    ///   - probe: one proof of progress; it hangs or throws when the node is wedged.
    ///   - logger: for readiness, wedges and recoveries.
    public init(
        notifier: any ServiceManagerNotifying,
        readiness: NodeReadiness,
        watchdogTimeout: Duration?,
        probe: @escaping @Sendable () async throws -> Void,
        logger: Logger
    ) {
        self.notifier = notifier
        self.readiness = readiness
        self.watchdogTimeout = watchdogTimeout
        self.probe = probe
        self.logger = logger
    }

    /// A probe through `spool`: the actor answers and, under `fsync = always`, its last record becomes durable
    /// (a hung disk is a wedge). Under `interval` and `never` it does not force a sync the policy would not make.
    public static func spoolProbe(_ spool: Spool) -> @Sendable () async throws -> Void {
        {
            let last = await spool.lastSequence
            if last > 0, spool.configuration.fsync == .always { try await spool.waitUntilDurable(through: last) }
        }
    }

    /// Sends `READY=1`, pets the watchdog until graceful shutdown, then sends `STOPPING=1`.
    public func run() async throws {
        await cancelWhenGracefulShutdownIgnoringErrors { await readiness.waitUntilReady() }
        if readiness.pendingSteps.isEmpty, !Task.isShuttingDownGracefully, !Task.isCancelled {
            let summary = readiness.summary
            let status = summary.isEmpty ? "ready" : "ready: \(summary)"
            if await send([.ready, .status(status)]) {
                logger.info("told systemd the node is ready (READY=1)\(watchdogTimeout.map { "; petting its watchdog (timeout \($0))" } ?? "")")
            }
            if let watchdogTimeout {
                await cancelWhenGracefulShutdownIgnoringErrors { await petWatchdog(timeout: watchdogTimeout, readyStatus: status) }
            } else {
                try? await gracefulShutdown()
            }
        }
        // Also when the node is cancelled rather than shut down gracefully: sent from a task of its own, which the
        // cancellation does not reach.
        _ = await Task { await send([.stopping, .status("stopping")]) }.value
    }

    /// Probes and pets until cancelled; `readyStatus` is the status line restored when a wedge ends.
    func petWatchdog(timeout: Duration, readyStatus: String) async {
        let interval = timeout / 2
        let health = SharedHealth(WatchdogHealth(wedgeAfter: interval, start: .now))
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [probe, logger] in
                while !Task.isCancelled {
                    do {
                        try await probe()
                        if health.state.withLock({ $0.progressed(at: .now) }) {
                            logger.notice("the node makes progress again: petting the systemd watchdog again")
                        }
                    } catch is CancellationError {
                        return
                    } catch {
                        logger.error("health probe failed: \(error); the systemd watchdog is not petted while it fails")
                    }
                    try? await Task.sleep(for: min(interval / 2, .seconds(1)))
                }
            }
            group.addTask {
                var wasWedged = false
                while !Task.isCancelled {
                    switch health.state.withLock({ $0.check(at: .now) }) {
                    case .pet:
                        await send(wasWedged ? [.watchdog, .status(readyStatus)] : [.watchdog])
                        wasWedged = false
                    case .wedged(let stalled):
                        logger.critical("""
                            the node is wedged: its health probe (a round trip through the spool) has not completed for \
                            \(stalled); no longer petting the systemd watchdog, so systemd restarts the node after WatchdogSec
                            """)
                        await send([.status("wedged: no progress for \(stalled); watchdog no longer petted")])
                        wasWedged = true
                    case .stillWedged:
                        break
                    }
                    try? await Task.sleep(for: interval)
                }
            }
        }
    }

    /// Sends; a failure is logged the first time and then every 100th time (a broken socket would otherwise log at
    /// every pet).
    @discardableResult
    private func send(_ notifications: [SystemdNotification]) async -> Bool {
        do {
            try await notifier.send(notifications)
            return true
        } catch {
            let count = sendFailures.count.add(1, ordering: .relaxed).newValue
            if count % 100 == 1 {
                logger.warning("\(error) (failure \(count); logged every 100th time)")
            }
            return false
        }
    }

    private func cancelWhenGracefulShutdownIgnoringErrors(_ body: @escaping @Sendable () async -> Void) async {
        await cancelWhenGracefulShutdown { await body() }
    }
}

/// How many notifications could not be sent.
private final class SendFailures: Sendable {
    let count = Atomic<Int>(0)
}

/// The health both tasks of the watchdog loop share.
private final class SharedHealth: Sendable {
    let state: Mutex<WatchdogHealth>

    init(_ health: WatchdogHealth) {
        state = Mutex(health)
    }
}
