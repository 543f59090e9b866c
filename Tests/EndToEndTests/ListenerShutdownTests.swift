import Dispatch
import Foundation
import LogFerryTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM while connections are being accepted. An accepted connection still queued in the accept stream
/// when the listener shut down used to be dropped as an unserved `NIOAsyncChannel`, whose writer traps in its
/// deinit ("Deinited NIOAsyncWriter without calling finish()"): the receiver died with SIGILL instead of
/// exiting 0. Listeners now queue plain channels (`AcceptedConnection`).
@Suite("Listener shutdown under a connection storm (real processes)", .serialized)
struct ListenerShutdownTests {
    @Test("SIGTERM while peers keep connecting to the ferry listener and the metrics endpoint: exit 0, every time")
    func sigtermDuringAccepts() async throws {
        try await FerryScene.run("listener-storm") { scene in
            for round in 0..<12 {
                let metricsPort = try freeTCPPort()
                let receiver = try await scene.node("receiver-\(round)", [
                    "receive", "--spool", try scene.path("spool-\(round)"), "--out", try scene.path("out-\(round)", create: true),
                    "--metrics-listen", "127.0.0.1:\(metricsPort)",
                ])
                let stop = Atomic<Bool>(false)
                let storm = DispatchGroup()
                // Two threads of their own (not tasks): they connect and hang up as fast as they can.
                for port in [receiver.port, metricsPort] {
                    DispatchQueue.global().async(group: storm) {
                        while !stop.load(ordering: .relaxed) {
                            if let fd = connectTCP(port: port, receiveTimeoutSeconds: 1) { close(fd) }
                        }
                    }
                }
                try await Task.sleep(for: .milliseconds(200))
                // A burst the listener is still accepting when SIGTERM lands.
                let burst = (0..<200).compactMap { _ in Self.connectWithoutWaiting(port: receiver.port) }
                defer { burst.forEach { close($0) } }
                let exit = await receiver.terminate()
                stop.store(true, ordering: .relaxed)
                await withCheckedContinuation { done in storm.notify(queue: .global()) { done.resume() } }
                #expect(exit == .exited(0), "round \(round): the receiver ended \(String(describing: exit)) on SIGTERM under a connection storm:\n\(receiver.allStandardError())")
            }
        }
    }

    /// A non-blocking connect to 127.0.0.1:`port`, not waited for; the socket, or nil.
    static func connectWithoutWaiting(port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return fd
    }
}
