import LogFerrySystemd

/// What takes a node's notifications to its service manager: systemd's `sd_notify` in production
/// (``LogFerrySystemd/SystemdNotifier``), a recorder in tests.
public protocol ServiceManagerNotifying: Sendable {
    /// Sends `notifications` together.
    func send(_ notifications: [SystemdNotification]) async throws
}

extension SystemdNotifier: ServiceManagerNotifying {}
