import ArgumentParser
import Foundation
import LogFerryLogging
import Logging
import ServiceLifecycle

/// `logferry-example-app`: an application that ships its own logs with LogFerryLogging, no agent beside it.
///
/// It logs `--count` numbered messages (`message N`, from `--start`) through swift-log, at `--rate` per second or as
/// fast as it can, then shuts down gracefully: the logging service stores what is buffered and waits for the
/// upstream's acknowledgement before the process exits. Killed and restarted with the same `--spool`, it ships
/// what the previous run stored and nothing twice.
@main
struct ExampleAppCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logferry-example-app",
        abstract: "Log numbered messages through swift-log and ship them with LogFerryLogging."
    )

    @Option(name: .customLong("to"), help: "Upstreams, HOST:PORT[,HOST:PORT...], in failover order.")
    var to: String

    @Option(help: "The application's spool directory (keep it across restarts).")
    var spool: String

    @Option(help: "How many messages to log.")
    var count: Int = 1000

    @Option(help: "The number of the first message (to continue a run that was killed).")
    var start: Int = 0

    @Option(help: "Messages per second (default: as fast as possible).")
    var rate: Double?

    @Option(name: .customLong("host-name"), help: "The origin host name in the shipped batches.")
    var hostName: String?

    @Option(help: "What a log call does when the buffer is full: drop-newest, drop-oldest or block.")
    var overflow: String = BufferOverflowPolicy.dropNewest.rawValue

    @Option(name: .customLong("buffer-events"), help: "Events the in-memory buffer holds.")
    var bufferEvents: Int = 10_000

    func validate() throws {
        guard count >= 0, start >= 0 else { throw ValidationError("--count and --start must not be negative") }
        if let rate, !(rate > 0) { throw ValidationError("--rate must be a positive number of messages per second") }
        guard BufferOverflowPolicy(rawValue: overflow) != nil else {
            throw ValidationError("--overflow must be drop-newest, drop-oldest or block, not '\(overflow)'")
        }
    }

    func run() async throws {
        var configuration = try LogFerryLoggingConfiguration(spoolDirectory: spool, to: to)
        configuration.overflowPolicy = BufferOverflowPolicy(rawValue: overflow) ?? .dropNewest
        configuration.bufferCapacity = bufferEvents
        if let hostName { configuration.hostName = hostName }
        configuration.backoff = .init(base: .milliseconds(100), cap: .seconds(2))
        let logging = LogFerryLoggingService(configuration: configuration)
        LoggingSystem.bootstrap { label in logging.makeLogHandler(label: label) }

        let messages = NumberedMessages(first: start, count: count, rate: rate, logger: Logger(label: "example-app"))
        let group = ServiceGroup(
            configuration: .init(
                // The logging service first: it is shut down last, after the messages are all logged.
                services: [
                    .init(service: logging),
                    .init(service: messages, successTerminationBehavior: .gracefullyShutdownGroup),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: Logger(label: "logferry-example-app") { StreamLogHandler.standardError(label: $0) }
            )
        )
        try await group.run()
        print("done: logged \(messages.logged.value) messages from \(start), dropped \(logging.droppedEvents)")
    }
}
