import Foundation
import LogFerrySystemd
import Testing

/// The sd_notify side that needs no socket: what is sent, and nothing to do without `NOTIFY_SOCKET` (the real
/// socket is exercised through the binary in EndToEndTests/SystemdNotifyTests).
@Suite("SystemdNotifier")
struct SystemdNotifierTests {
    @Test("assignments as sd_notify(3) spells them; a status stays one line")
    func assignments() {
        #expect(SystemdNotification.ready.assignment == "READY=1")
        #expect(SystemdNotification.stopping.assignment == "STOPPING=1")
        #expect(SystemdNotification.watchdog.assignment == "WATCHDOG=1")
        #expect(SystemdNotification.status("a\nb\rc").assignment == "STATUS=a b c")
    }

    @Test("no notifier when NOTIFY_SOCKET is unset")
    func absentWithoutSocket() {
        if ProcessInfo.processInfo.environment["NOTIFY_SOCKET"] == nil {
            #expect(SystemdNotifier.fromEnvironment() == nil)
        } else {
            #expect(SystemdNotifier.fromEnvironment() != nil)
        }
    }
}
