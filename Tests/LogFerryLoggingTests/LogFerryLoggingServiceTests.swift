import Foundation
@testable import LogFerryLogging
import LogFerryNode
import LogFerrySpool
import LogFerryTestSupport
import LogFerryWire
import Logging
import ServiceLifecycle
import Testing

/// The handler's events and the service's graceful shutdown, read back from the spool.
@Suite("LogFerryLogging service")
struct LogFerryLoggingServiceTests {
    static let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    /// Every event stored in the spool at `path`, in order (opens and closes the spool).
    static func spooledEvents(_ path: String) async throws -> [Event] {
        let spool = try await Spool.open(SpoolConfiguration(directory: path), logger: quiet)
        let reader = spool.makeReader(from: 1)
        var decoder = BatchDecoder()
        var events: [Event] = []
        while let record = try await reader.nextIfAvailable() {
            events += try decoder.decode(SealedBatch(serialized: record.payload)).events
        }
        await spool.close()
        return events
    }

    @Test("a log call becomes an event: message, label, level, metadata and source location as fields")
    func eventFields() throws {
        let service = LogFerryLoggingService(configuration: try .init(spoolDirectory: "/nonexistent", to: "127.0.0.1:1"))
        var handler = service.makeLogHandler(label: "shop.checkout")
        handler.metadata = ["request": "r-1", "level": "shadowed"]
        let configured = handler
        let logger = Logger(label: "shop.checkout") { _ in configured }
        logger.warning("payment declined", metadata: ["order": "42"])
        logger.debug("below the level: not logged")
        let events = service.buffer.take(limit: .max)
        try #require(events.count == 1)
        let event = events[0]
        #expect(event.source == "shop.checkout")
        #expect(String(decoding: event.line, as: UTF8.self) == "payment declined")
        #expect(event.fields["level"] == "warning")
        #expect(event.fields["label"] == "shop.checkout")
        #expect(event.fields["order"] == "42")
        #expect(event.fields["request"] == "r-1")
        #expect(event.fields["metadata.level"] == "shadowed")
        #expect(event.fields["file"]?.hasSuffix("LogFerryLoggingServiceTests.swift") == true)
        #expect(event.fields["function"] == "eventFields()")
        #expect(Int(event.fields["line"] ?? "") ?? 0 > 0)
        #expect(event.timestamp > 1_600_000_000_000_000_000)
    }

    @Test("graceful shutdown stores everything buffered, even with no upstream reachable; later logs are dropped and counted")
    func gracefulShutdownStores() async throws {
        let directory = try TemporaryDirectory("logging-service")
        defer { directory.remove() }
        var configuration = try LogFerryLoggingConfiguration(spoolDirectory: directory.file("spool"), to: "127.0.0.1:\(try freeTCPPort())")
        configuration.shutdownTimeout = .milliseconds(500)
        configuration.flushInterval = .seconds(60)  // nothing is sealed by time: the shutdown must do it
        configuration.maxBatchEvents = 64
        let service = LogFerryLoggingService(configuration: configuration, internalLogger: Self.quiet)
        let logger = Logger(label: "app") { service.makeLogHandler(label: $0) }
        // Logged before the service runs: waits in the buffer.
        for number in 0..<100 { logger.info("early \(number)") }
        let group = ServiceGroup(services: [service], logger: Self.quiet)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            for number in 0..<1_000 { logger.info("message \(number)", metadata: ["number": "\(number)"]) }
            try await Task.sleep(for: .milliseconds(200))
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        logger.info("after the service stopped")
        #expect(service.droppedEvents == 1)

        let lines = try await Self.spooledEvents(directory.file("spool")).map { String(decoding: $0.line, as: UTF8.self) }
        let expected = (0..<100).map { "early \($0)" } + (0..<1_000).map { "message \($0)" }
        #expect(lines.count == expected.count)
        #expect(lines == expected, "first difference at \(String(describing: zip(lines, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset))")
    }

    @Test("a service with no upstream fails with an error that says so")
    func noUpstream() async throws {
        let service = LogFerryLoggingService(configuration: .init(spoolDirectory: "/nonexistent", upstreams: []), internalLogger: Self.quiet)
        await #expect(throws: LogFerryLoggingError.self) { try await service.run() }
    }
}
