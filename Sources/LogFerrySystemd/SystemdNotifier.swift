import CSystemd
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// Talks to the service manager through `sd_notify`: readiness, the watchdog, status, stopping.
///
/// Made with ``fromEnvironment()``, which returns nil when the process was not started by systemd with a
/// notification socket (`NOTIFY_SOCKET` unset): then there is nobody to tell, and a caller simply does nothing.
public struct SystemdNotifier: Sendable {
    /// How often systemd expects `WATCHDOG=1` at the latest (`WatchdogSec=`, passed as `WATCHDOG_USEC`), nil when
    /// the watchdog is off for this process. Send at about half this interval.
    public let watchdogTimeout: Duration?

    /// The notifier for this process, or nil when `NOTIFY_SOCKET` is unset.
    public static func fromEnvironment() -> SystemdNotifier? {
        guard let socket = getenv("NOTIFY_SOCKET"), socket.pointee != 0 else { return nil }
        var microseconds: UInt64 = 0
        let enabled = sd_watchdog_enabled(0, &microseconds)
        return SystemdNotifier(watchdogTimeout: enabled > 0 && microseconds > 0 ? .microseconds(Int64(clamping: microseconds)) : nil)
    }

    /// Sends `notifications` in one datagram. The send runs on a thread of NIO's blocking pool, never on a
    /// cooperative thread (a datagram to a full socket queue blocks).
    /// - Throws: ``SystemdNotifyError`` when the socket cannot be reached.
    public func send(_ notifications: [SystemdNotification]) async throws {
        guard !notifications.isEmpty else { return }
        let text = notifications.map(\.assignment).joined(separator: "\n")
        let result = try await NIOThreadPool.singleton.runIfActive { sd_notify(0, text) }
        guard result >= 0 else {
            let socket = getenv("NOTIFY_SOCKET").map { String(cString: $0) } ?? "(unset)"
            throw SystemdNotifyError(socket: socket, code: -result)
        }
    }
}

/// `sd_notify` failed: the notification socket named by `NOTIFY_SOCKET` is not reachable.
public struct SystemdNotifyError: Error, CustomStringConvertible, Sendable {
    /// The socket path from `NOTIFY_SOCKET`.
    public var socket: String
    /// The errno.
    public var code: Int32

    /// An operator-facing description.
    public var description: String {
        "sd_notify to NOTIFY_SOCKET=\(socket) failed: \(String(cString: strerror(code))); systemd will not see this service's readiness or watchdog"
    }
}
