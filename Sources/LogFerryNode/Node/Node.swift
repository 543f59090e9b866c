import LogFerrySpool
import Logging
import ServiceLifecycle

/// A running LogFerry process: sources -> spool -> sinks.
///
/// Shutdown is ordered so that nothing taken is lost: on SIGTERM the sources stop taking input (a ferry
/// listener finishes the acks of what it took and says bye), then the sinks are cancelled and commit what
/// they shipped or wrote, then the spool is closed. A failing sink stops the node with its error. Every
/// source and sink is a swift-service-lifecycle `Service`: sources return on graceful shutdown or at the end
/// of their input; sinks run until cancelled and commit what they have done on the way out.
public final class Node: Service, Sendable {
    let spool: Spool
    let sources: [any Service]
    let sinks: [any Service]
    let whenSourcesEnd: @Sendable () async -> Void
    let logger: Logger

    /// Creates a node over `spool`.
    ///
    /// - Parameters:
    ///   - spool: the spool the sources append to and the sinks read from; closed when the node stops.
    ///   - sources: the services that take input into the spool.
    ///   - sinks: the services that deliver the spool's records onwards.
    ///   - whenSourcesEnd: what to wait for once every source has returned before the sinks are
    ///     stopped; by default the graceful shutdown (SIGTERM). An agent with `--exit-when-drained` waits
    ///     for its ferry sink to have everything acknowledged instead.
    ///   - logger: the node's logger (its shutdown steps are logged at debug level).
    public init(
        spool: Spool,
        sources: [any Service],
        sinks: [any Service],
        whenSourcesEnd: (@Sendable () async -> Void)? = nil,
        logger: Logger
    ) {
        self.spool = spool
        self.sources = sources
        self.sinks = sinks
        self.whenSourcesEnd = whenSourcesEnd ?? { try? await gracefulShutdown() }
        self.logger = logger
    }

    private enum Finished: Sendable {
        case source, sink, sourcesDone
    }

    /// Runs every stage until shutdown.
    public func run() async throws {
        do {
            try await withThrowingTaskGroup(of: Finished.self) { group in
                for sink in sinks {
                    group.addTask { try await sink.run(); return .sink }
                }
                for source in sources {
                    group.addTask { try await source.run(); return .source }
                }
                var sourcesRunning = sources.count
                if sourcesRunning == 0 {
                    group.addTask { [whenSourcesEnd] in await whenSourcesEnd(); return .sourcesDone }
                }
                while let finished = try await group.next() {
                    switch finished {
                    case .source:
                        sourcesRunning -= 1
                        if sourcesRunning == 0 {
                            group.addTask { [whenSourcesEnd] in await whenSourcesEnd(); return .sourcesDone }
                        }
                    case .sourcesDone:
                        logger.debug("sources are done; stopping the sinks")
                        group.cancelAll()
                    case .sink:
                        group.cancelAll()
                    }
                }
            }
        } catch {
            await spool.close()
            throw error
        }
        await spool.close()
    }
}
