import Logging
import ServiceLifecycle
import Testing
@testable import LogFerryNode

@Suite("Freed memory releaser")
struct FreedMemoryReleaserTests {
    /// An agent's graceful shutdown waits for every service: a releaser that only looked at the shutdown
    /// between ticks would hold a SIGTERM up for a whole interval.
    @Test("it stops at once at a graceful shutdown, in the middle of a long interval", .timeLimit(.minutes(1)))
    func stopsAtGracefulShutdown() async throws {
        let releaser = FreedMemoryReleaser(interval: .seconds(3_600))
        let group = ServiceGroup(services: [releaser], logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await Task.sleep(for: .milliseconds(100))
            await group.triggerGracefulShutdown()
            // The group returns once the releaser has: one that waited for its next tick would still be
            // sleeping, and the time limit fails the test.
            try await tasks.waitForAll()
        }
    }
}
