import ArgumentParser
import Foundation
import LogFerryNode
import LogFerrySpool
import Logging
import ServiceLifecycle

/// `logferry demo`: a receiver and an agent in one process, shipping a generated log file (rotated
/// half-way) for about ten seconds, with a live progress line and an exactly-once check at the end.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Ship sample logs from an agent to a local receiver and check that every line arrived once."
    )

    @Option(name: .long, help: "The demo's root (spools, the sample log, the received files).")
    var root: String = "spool/demo"

    @Option(name: .long, help: "How long to write sample lines.")
    var seconds: Int = 10

    @Option(name: .long, help: "Sample lines written per second.")
    var rate: Int = 50_000

    @Option(name: .long, help: "Write exactly this many lines, as fast as possible (overrides --seconds/--rate).")
    var lines: Int?

    @Option(name: .customLong("log-level"), help: "Log level of the nodes (logs go to standard error).")
    var logLevel: String = "warning"

    func run() async throws {
        let runtime = LogFerryRuntime.bootstrap(logLevel: logLevel, label: "logferry.demo")
        try? FileManager.default.removeItem(atPath: root)
        let demo = DemoService(root: root, seconds: seconds, rate: rate, lines: lines, logger: runtime.logger)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: demo, successTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: Logger(label: "logferry.lifecycle")
        ))
        try await group.run()
        if let failure = await demo.outcome.failure {
            throw ValidationError(failure)
        }
    }
}

/// The demo's run: both nodes, the generator, the progress line, the summary.
struct DemoService: Service {
    let root: String
    let seconds: Int
    let rate: Int
    let lines: Int?
    let logger: Logger
    let outcome = DemoOutcome()

    func run() async throws {
        let logs = root + "/logs"
        let received = root + "/received"
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        let receiverSpool = try await Spool.open(SpoolConfiguration(directory: root + "/receiver-spool"))
        let agentSpool = try await Spool.open(SpoolConfiguration(directory: root + "/agent-spool"))
        let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
        let server = try await FerryServer(
            configuration: FerryServerConfiguration(host: "127.0.0.1", port: 0),
            spool: receiverSpool,
            logger: Logger(label: "logferry.demo.receiver"),
            onListening: { address in portSink.yield(address.port ?? 0); portSink.finish() }
        )
        let fileSink = FileSink(configuration: FileSinkConfiguration(directory: received), spool: receiverSpool, logger: Logger(label: "logferry.demo.file-sink"))
        let receiver = Node(spool: receiverSpool, sources: [server], sinks: [fileSink], logger: logger)

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await receiver.run() }
            var portIterator = ports.makeAsyncIterator()
            guard let port = await portIterator.next() else { throw DemoError("the receiver did not start") }
            print("receiver listening on 127.0.0.1:\(port), writing to \(received)/")
            let ferrySink = FerrySink(
                configuration: FerrySinkConfiguration(upstreams: [Upstream(host: "127.0.0.1", port: port)], hostName: "demo-agent"),
                spool: agentSpool,
                logger: Logger(label: "logferry.demo.ferry-sink")
            )
            let fileSource = FileSource(
                spool: agentSpool, host: "demo-agent", policy: BatchPolicy(),
                tailer: FileTailerConfiguration(patterns: [logs + "/*.log"], rescanInterval: .milliseconds(250)),
                logger: Logger(label: "logferry.demo.files")
            )
            let agent = Node(spool: agentSpool, sources: [fileSource], sinks: [ferrySink], logger: logger)
            group.addTask { try await agent.run() }
            print("agent tailing \(logs)/*.log, shipping to the receiver; the log rotates half-way\n")

            let generator = SampleLogWriter(directory: logs)
            let started = ContinuousClock.now
            let total = try await generator.write(lines: lines, seconds: seconds, rate: rate) { written in
                await printProgress(written: written, started: started, agentSpool: agentSpool, ferrySink: ferrySink, fileSink: fileSink, receiverSpool: receiverSpool)
            }
            // Wait until the receiver has written everything the agent stored.
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(250))
                await printProgress(written: total, started: started, agentSpool: agentSpool, ferrySink: ferrySink, fileSink: fileSink, receiverSpool: receiverSpool)
                let agentLast = await agentSpool.lastSequence
                let acked = await ferrySink.acknowledged
                let receiverLast = await receiverSpool.lastSequence
                let written = await fileSink.committed
                if acked >= agentLast, written >= receiverLast, try DemoCheck.count(received) >= total { break }
            }
            let elapsed = ContinuousClock.now - started
            print("")
            let check = try DemoCheck.verify(received, expected: total)
            print("""

                summary: \(total) lines written, \(check.received) received in \(String(format: "%.1f", elapsed.seconds)) s \
                (\(Int(Double(check.received) / max(elapsed.seconds, 0.001))) lines/s)
                         missing \(check.missing), duplicated \(check.duplicated)\(check.missing == 0 && check.duplicated == 0 ? ": every line arrived exactly once" : "")
                received files: \(check.files.joined(separator: ", "))
                spools: \(root)/agent-spool, \(root)/receiver-spool (inspect with: logferry spool inspect DIR)
                """)
            if check.missing != 0 || check.duplicated != 0 {
                await outcome.fail("\(check.missing) lines missing, \(check.duplicated) duplicated")
            }
            group.cancelAll()
        }
    }

    private func printProgress(written: Int, started: ContinuousClock.Instant, agentSpool: Spool, ferrySink: FerrySink, fileSink: FileSink, receiverSpool: Spool) async {
        let spooled = await agentSpool.lastSequence
        let acked = await ferrySink.acknowledged
        let stored = await receiverSpool.lastSequence
        let wrote = await fileSink.committed
        let elapsed = max((ContinuousClock.now - started).seconds, 0.001)
        let line = "written \(written) lines | agent: \(spooled) batches spooled, \(acked) acked, backlog \(spooled - min(acked, spooled)) | receiver: \(stored) stored, \(wrote) written | \(Int(Double(written) / elapsed)) lines/s"
        if isatty(STDOUT_FILENO) != 0 {
            FileHandle.standardOutput.write(Data(("\r\u{1B}[K" + line).utf8))
        } else {
            print(line)
        }
    }
}

/// Whether the demo's check passed.
actor DemoOutcome {
    private(set) var failure: String?
    func fail(_ reason: String) { failure = reason }
}

struct DemoError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
