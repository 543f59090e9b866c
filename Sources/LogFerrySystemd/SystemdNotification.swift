/// A state a service reports to systemd through `sd_notify` (see `sd_notify(3)`).
public enum SystemdNotification: Sendable, Hashable {
    /// `READY=1`: start-up is finished (a `Type=notify` unit is started from now on).
    case ready
    /// `STOPPING=1`: the service is shutting down.
    case stopping
    /// `WATCHDOG=1`: the service is alive; without it for `WatchdogSec=` systemd kills and restarts it.
    case watchdog
    /// `STATUS=...`: one line of free text shown by `systemctl status`.
    case status(String)

    /// The `NAME=value` line sent.
    public var assignment: String {
        switch self {
        case .ready: return "READY=1"
        case .stopping: return "STOPPING=1"
        case .watchdog: return "WATCHDOG=1"
        case .status(let text):
            return "STATUS=" + String(text.map { $0 == "\n" || $0 == "\r" ? " " : $0 })
        }
    }
}
