import Logging
import LogFerrySystemd
import LogFerryTestSupport
import Synchronization
import Testing
@testable import LogFerryNode

/// READY=1 only after every start-up step, WATCHDOG=1 only while the health probe completes, and the wedge and
/// recovery decisions, with a recording notifier (the real socket is tested through the binary in
/// EndToEndTests/SystemdNotifyTests).
@Suite("SystemdNotifyService and WatchdogHealth")
struct SystemdNotifyServiceTests {
    /// Records what would go to systemd.
    final class Recorder: ServiceManagerNotifying {
        let sent = Mutex<[[SystemdNotification]]>([])
        func send(_ notifications: [SystemdNotification]) async throws {
            sent.withLock { $0.append(notifications) }
        }
        var all: [SystemdNotification] { sent.withLock { $0.flatMap { $0 } } }
        func count(_ notification: SystemdNotification) -> Int { all.count { $0 == notification } }
    }

    @Test("health: pet while probes complete, one wedge report, then silence until a probe completes again")
    func healthVerdicts() {
        let start = ContinuousClock.now
        var health = WatchdogHealth(wedgeAfter: .seconds(5), start: start)
        #expect(health.check(at: start + .seconds(4)) == .pet)
        #expect(health.check(at: start + .seconds(6)) == .wedged(stalledFor: .seconds(6)))
        #expect(health.check(at: start + .seconds(9)) == .stillWedged)
        #expect(health.isWedged)
        #expect(health.progressed(at: start + .seconds(10)) == true)
        #expect(health.check(at: start + .seconds(11)) == .pet)
        #expect(health.progressed(at: start + .seconds(12)) == false)
        #expect(health.check(at: start + .seconds(18)) == .wedged(stalledFor: .seconds(6)))
    }

    @Test("readiness: waiting ends only when every step has started; cancellation ends it too")
    func readiness() async {
        let readiness = NodeReadiness(waitingFor: ["ferry listener", "journal"])
        let finished = Flag()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await readiness.waitUntilReady()
                finished.set()
            }
            readiness.started("ferry listener", detail: "listening on 127.0.0.1:1")
            readiness.started("unknown step")
            try? await Task.sleep(for: .milliseconds(100))
            #expect(!finished.isSet)
            #expect(readiness.pendingSteps == ["journal"])
            readiness.started("journal", detail: "reading the local journal")
            await group.waitForAll()
        }
        #expect(finished.isSet)
        #expect(readiness.summary == "listening on 127.0.0.1:1; reading the local journal")
        // Cancelled before ready.
        let never = NodeReadiness(waitingFor: ["x"])
        let task = Task { await never.waitUntilReady() }
        task.cancel()
        await task.value
        #expect(never.pendingSteps == ["x"])
    }

    @Test("READY=1 after the last step; WATCHDOG=1 while the probe completes; a hanging probe stops the petting; STOPPING=1 at the end")
    func readyWatchdogWedge() async throws {
        let recorder = Recorder()
        let readiness = NodeReadiness(waitingFor: ["listener"])
        let wedged = Switch()
        let service = SystemdNotifyService(
            notifier: recorder,
            readiness: readiness,
            watchdogTimeout: .seconds(2),
            probe: {
                // A wedged node: the probe does not come back (until the test ends it).
                while wedged.isOn { try await Task.sleep(for: .milliseconds(20)) }
            },
            logger: Logger(label: "test.systemd")
        )
        let running = Task { try await service.run() }
        try await Task.sleep(for: .milliseconds(300))
        #expect(recorder.all.isEmpty, "nothing before the node is ready: \(recorder.all)")
        readiness.started("listener", detail: "listening on 127.0.0.1:7514")
        let petted = await waitUntilTrue(timeout: .seconds(30)) { recorder.count(.watchdog) >= 3 }
        #expect(petted, "\(recorder.all)")
        let first = recorder.sent.withLock { $0.first } ?? []
        #expect(first == [.ready, .status("ready: listening on 127.0.0.1:7514")])

        // Wedge: after the report, no more WATCHDOG=1. On a loaded machine a slow probe may already have been
        // reported as a wedge (and then as progress again): wait for a report made after the switch.
        func wedgeReports() -> Int {
            recorder.all.count { if case .status(let text) = $0 { return text.hasPrefix("wedged") } else { return false } }
        }
        let reportsBefore = wedgeReports()
        wedged.isOn = true
        let reported = await waitUntilTrue(timeout: .seconds(30)) { wedgeReports() > reportsBefore }
        #expect(reported, "\(recorder.all)")
        let petsAtWedge = recorder.count(.watchdog)
        try await Task.sleep(for: .seconds(1))
        #expect(recorder.count(.watchdog) == petsAtWedge, "petted while wedged")

        // Recovery: petting resumes.
        wedged.isOn = false
        let resumed = await waitUntilTrue(timeout: .seconds(30)) { recorder.count(.watchdog) > petsAtWedge }
        #expect(resumed)
        let restored = await waitUntilTrue(timeout: .seconds(30)) { recorder.count(.status("ready: listening on 127.0.0.1:7514")) >= 2 }
        #expect(restored, "the ready status is shown again after the wedge: \(recorder.all)")

        running.cancel()
        _ = try? await running.value
        #expect(recorder.sent.withLock { $0.last } == [.stopping, .status("stopping")])
    }

    @Test("no watchdog timeout: READY=1 and, at the end, STOPPING=1, and no WATCHDOG=1")
    func noWatchdog() async throws {
        let recorder = Recorder()
        let service = SystemdNotifyService(
            notifier: recorder, readiness: NodeReadiness(waitingFor: []), watchdogTimeout: nil,
            probe: {}, logger: Logger(label: "test.systemd")
        )
        let running = Task { try await service.run() }
        let ready = await waitUntilTrue(timeout: .seconds(30)) { recorder.count(.ready) == 1 }
        #expect(ready)
        try await Task.sleep(for: .milliseconds(300))
        running.cancel()
        _ = try? await running.value
        #expect(recorder.count(.watchdog) == 0)
        #expect(recorder.count(.stopping) == 1)
    }

    /// A switch the test flips while the service's probe reads it.
    final class Switch: Sendable {
        private let value = Mutex(false)
        var isOn: Bool {
            get { value.withLock { $0 } }
            set { value.withLock { $0 = newValue } }
        }
    }

    /// Polls every 20 ms.
    func waitUntilTrue(timeout: Duration, _ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }
}
