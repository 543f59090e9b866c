import Foundation
import LogFerryTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// sd_notify through the real binary: the test binds the unix datagram socket systemd would, passes it as
/// `NOTIFY_SOCKET` (and `WATCHDOG_USEC`), and reads what the node sends: `READY=1` once the listener accepts
/// connections, `WATCHDOG=1` while it runs, `STOPPING=1` on SIGTERM.
@Suite("sd_notify (real processes)", .serialized)
struct SystemdNotifyTests {
    /// A bound unix datagram socket read without blocking (polled), standing in for systemd's notification socket.
    final class NotifySocket: @unchecked Sendable {
        let path: String
        let fd: Int32
        private var received: [(at: ContinuousClock.Instant, text: String)] = []

        init() throws {
            // sun_path holds 108 bytes: keep the path short.
            path = "/tmp/lf-notify-\(UInt32.random(in: 0...UInt32.max)).sock"
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard fd >= 0 else { throw HarnessError("socket: errno \(errno)") }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { buffer in
                for (index, byte) in path.utf8.enumerated() { buffer[index] = byte }
            }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard bound == 0 else {
                close(fd)
                throw HarnessError("bind \(path): errno \(errno)")
            }
        }

        /// Reads every datagram waiting (never blocks).
        func drain() -> [(at: ContinuousClock.Instant, text: String)] {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                guard count > 0 else { break }
                received.append((.now, String(decoding: buffer[0..<count], as: UTF8.self)))
            }
            return received
        }

        /// The assignments received so far (`READY=1`, `WATCHDOG=1`, ...), one per line of every datagram.
        func assignments() -> [String] {
            drain().flatMap { $0.text.split(separator: "\n").map(String.init) }
        }

        /// Polls every 20 ms until `condition` holds over the assignments, up to `timeout`.
        func waitFor(timeout: Duration, _ condition: ([String]) -> Bool) async -> Bool {
            await waitUntil(timeout: timeout, interval: .milliseconds(20)) { condition(assignments()) }
        }

        func remove() {
            close(fd)
            unlink(path)
        }
    }

    @Test("a receiver with WATCHDOG_USEC: READY=1 once it accepts connections, WATCHDOG=1 while it runs, STOPPING=1 on SIGTERM")
    func receiverReadyWatchdogStopping() async throws {
        try await FerryScene.run("sd-notify") { scene in
            let notify = try NotifySocket()
            defer { notify.remove() }
            // Pets are counted against the time since the process started: a loaded machine may notice READY=1
            // late, but the node cannot have run longer than this.
            let startedAt = ContinuousClock.now
            let receiver = scene.children.track(try LogFerryProcess(
                ["receive", "--listen", "127.0.0.1:0", "--spool", try scene.path("spool"), "--out", try scene.path("out")],
                environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "2000000"],
                stderrPath: try scene.path("receiver.stderr")
            ))
            let ready = await notify.waitFor(timeout: .seconds(60)) { $0.contains("READY=1") }
            #expect(ready, "no READY=1: \(notify.assignments())\n\(receiver.standardError)")
            // READY=1 means the listener is up: the port it announced accepts a connection now.
            let announced = try await awaitAnnouncements(receiver, prefixes: ["listening on "], timeout: .seconds(30))
            let port = try #require(announced["listening on "].flatMap(portOf))
            let connection = connectTCP(port: port)
            #expect(connection != nil, "READY=1 was sent but 127.0.0.1:\(port) refuses connections")
            if let connection { close(connection) }
            #expect(notify.assignments().first == "READY=1")
            #expect(notify.assignments().contains { $0.hasPrefix("STATUS=ready: listening on 127.0.0.1:\(port)") }, "\(notify.assignments())")

            // Half of the 2 s watchdog timeout between pets: several arrive within a few seconds.
            let petted = await notify.waitFor(timeout: .seconds(60)) { $0.count { $0 == "WATCHDOG=1" } >= 3 }
            #expect(petted, "WATCHDOG=1 ×\(notify.assignments().count { $0 == "WATCHDOG=1" })\n\(receiver.standardError)")
            // Not in a tight loop: at most one pet per half timeout (1 s) since the start, plus slack. The test's clock
            // runs at least as long as the node's, so a slow machine cannot make this fail.
            let pets = notify.assignments().count { $0 == "WATCHDOG=1" }
            let seconds = Int((ContinuousClock.now - startedAt).components.seconds)
            #expect(pets <= seconds + 2, "\(pets) pets in about \(seconds) s")
            #expect(!notify.assignments().contains("STOPPING=1"))

            #expect(await stopGracefully(receiver) == .exited(0))
            #expect(notify.assignments().contains("STOPPING=1"), "\(notify.assignments())")
            let stoppingIndex = notify.assignments().firstIndex(of: "STOPPING=1") ?? 0
            #expect(!notify.assignments()[stoppingIndex...].contains("WATCHDOG=1"), "petted after STOPPING=1")
        }
    }

    @Test("an agent reading a journal directory, no WATCHDOG_USEC: READY=1 after the journal is positioned, no WATCHDOG=1")
    func agentWithoutWatchdog() async throws {
        try await FerryScene.run("sd-notify-agent") { scene in
            let notify = try NotifySocket()
            defer { notify.remove() }
            let journals = try scene.path("journal", create: true)
            let upstream = try freeTCPPort()
            let agent = scene.children.track(try LogFerryProcess(
                ["agent", "--journal-dir", journals, "--spool", try scene.path("spool"), "--to", "127.0.0.1:\(upstream)"],
                environment: ["NOTIFY_SOCKET": notify.path],
                stderrPath: try scene.path("agent.stderr")
            ))
            _ = try await awaitAnnouncements(agent, prefixes: ["journal reading "], timeout: .seconds(60))
            let ready = await notify.waitFor(timeout: .seconds(60)) { $0.contains("READY=1") }
            #expect(ready, "\(notify.assignments())\n\(agent.standardError)")
            #expect(notify.assignments().contains { $0.hasPrefix("STATUS=ready: reading the journal directory \(journals)") }, "\(notify.assignments())")
            try await Task.sleep(for: .seconds(2))
            #expect(!notify.assignments().contains("WATCHDOG=1"))
            #expect(await stopGracefully(agent) == .exited(0))
            #expect(notify.assignments().contains("STOPPING=1"))
        }
    }

    @Test("without NOTIFY_SOCKET the node runs as before and says nothing about systemd")
    func noSocket() async throws {
        try await FerryScene.run("sd-notify-none") { scene in
            let receiver = scene.children.track(try LogFerryProcess(
                ["receive", "--listen", "127.0.0.1:0", "--spool", try scene.path("spool"), "--out", try scene.path("out")],
                environment: ["WATCHDOG_USEC": "1000000"],
                stderrPath: try scene.path("receiver.stderr")
            ))
            _ = try await awaitAnnouncements(receiver, prefixes: ["listening on "], timeout: .seconds(60))
            try await Task.sleep(for: .seconds(1))
            #expect(await stopGracefully(receiver) == .exited(0))
            #expect(!receiver.standardError.contains("systemd"), "\(receiver.standardError)")
        }
    }

    @Test("a NOTIFY_SOCKET nobody listens on: the node runs and stops as usual, and says once what failed")
    func brokenSocket() async throws {
        try await FerryScene.run("sd-notify-broken") { scene in
            let missing = "/tmp/lf-notify-missing-\(UInt32.random(in: 0...UInt32.max)).sock"
            let receiver = scene.children.track(try LogFerryProcess(
                ["receive", "--listen", "127.0.0.1:0", "--spool", try scene.path("spool"), "--out", try scene.path("out")],
                environment: ["NOTIFY_SOCKET": missing, "WATCHDOG_USEC": "400000"],
                stderrPath: try scene.path("receiver.stderr")
            ))
            let announced = try await awaitAnnouncements(receiver, prefixes: ["listening on "], timeout: .seconds(60))
            let port = try #require(announced["listening on "].flatMap(portOf))
            // It serves: a connection is accepted. (Well before the SIGTERM below: a connection accepted while the
            // listener shuts down is another matter.)
            let connection = connectTCP(port: port)
            #expect(connection != nil)
            if let connection { close(connection) }
            // Several pets fail meanwhile (every 200 ms).
            try await Task.sleep(for: .seconds(2))
            let exit = await stopGracefully(receiver)
            #expect(exit == .exited(0), "\(String(describing: exit)): \(receiver.standardError.suffix(3000))")
            let failures = receiver.standardError.split(separator: "\n").filter { $0.contains("sd_notify to NOTIFY_SOCKET=\(missing) failed") }
            #expect(failures.count == 1, "\(receiver.standardError)")
        }
    }
}
