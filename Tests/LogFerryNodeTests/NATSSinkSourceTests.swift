import Foundation
import LogFerryNATS
import LogFerrySpool
import LogFerryTestSupport
import LogFerryWire
import Logging
import Testing
@testable import LogFerryNode

@Suite("JetStream sink and source (in process, real nats-server)", .enabled(if: NATSCluster.isAvailable, "nats-server is not installed"))
struct NATSSinkSourceTests {
    static let host = "web-1.example"

    /// A one-server cluster and an origin spool with `lines` lines in batches of 100, torn down afterwards.
    static func withOrigin(
        lines: Int, _ body: @Sendable (NATSCluster, TestOrigin, TemporaryDirectory) async throws -> Void
    ) async throws {
        let directory = try TemporaryDirectory("nats-node")
        let children = ChildProcesses()
        defer {
            children.killAll()
            directory.remove()
        }
        let cluster = try NATSCluster(size: 1, directory: directory.path, children: children)
        try await cluster.start()
        let origin = try await TestOrigin(host: host, directory: directory.file("origin"), upstreams: [])
        try await origin.append(lines: 0..<lines, batchSize: 100)
        try await body(cluster, origin, directory)
        await origin.spool.close()
        await cluster.stopAll()
    }

    static func sinkConfiguration(_ cluster: NATSCluster, stream: String, subject: String, format: NATSPayloadFormat, cursor: String) -> NATSSinkConfiguration {
        NATSSinkConfiguration(
            connection: NATSConnectionOptions(servers: cluster.servers.map(\.url)), stream: stream,
            subject: NATSSubjectTemplate(subject)!, format: format, backoff: Backoff(base: .milliseconds(50), cap: .seconds(1)),
            cursorName: cursor)
    }

    /// Runs `sink` until it has everything up to `sequence` acknowledged.
    static func publish(_ sink: NATSSink, through sequence: UInt64) async throws {
        let task = Task { try await sink.run() }
        defer { task.cancel() }
        try await waitUntil("the JetStream sink to have \(sequence) acknowledged", deadline: .seconds(60)) {
            await sink.acknowledged >= sequence
        }
        task.cancel()
        _ = await task.result
    }

    /// Every record of `spool`.
    static func records(_ spool: Spool) async throws -> [SpoolRecord] {
        let reader = spool.makeReader(from: 1)
        var records: [SpoolRecord] = []
        while let record = try await reader.nextIfAvailable() { records.append(record) }
        return records
    }

    @Test("batch format: each record once in the stream (a replay is dropped by id); the source stores each once, with its origin, across two consumers and a foreign message")
    func batchRoundTrip() async throws {
        try await Self.withOrigin(lines: 1000) { cluster, origin, directory in
            let last = await origin.spool.lastSequence
            let logger = Logger(label: "test.nats-sink")
            let configuration = Self.sinkConfiguration(cluster, stream: "T", subject: "logs.{host}", format: .batch, cursor: "nats")
            try await Self.publish(NATSSink(configuration: configuration, spool: origin.spool, logger: logger), through: last)
            // A crash before the cursor commit: everything is published again, with the same ids.
            var replay = configuration
            replay.cursorName = "replay"
            try await Self.publish(NATSSink(configuration: replay, spool: origin.spool, logger: logger), through: last)

            let client = try await NATSConnection.connect(NATSConnectionOptions(servers: [cluster.servers[0].url]), logger: logger)
            #expect(try await client.streamState("T").messages == 10)
            // Something that is not a LogFerry batch: the source terminates it and goes on.
            _ = try await client.publish([NATSOutboundMessage(subject: "logs.foreign", id: "foreign", payload: [1, 2, 3])], timeout: .seconds(5))
            await client.close()

            let spool = try await Spool.open(SpoolConfiguration(directory: directory.file("receiver"), fsync: .never), logger: logger)
            for consumer in ["a", "b"] {
                // The second consumer gets every message again; the origin ledger (rebuilt from the spool) drops them.
                let source = try await NATSSource(
                    configuration: NATSSourceConfiguration(
                        connection: NATSConnectionOptions(servers: [cluster.servers[0].url]), stream: "T",
                        subject: NATSSubjectTemplate("logs.{host}")!, consumer: consumer),
                    spool: spool, logger: Logger(label: "test.nats-source"))
                let task = Task { try await source.run() }
                try await waitUntil("consumer \(consumer) to acknowledge 10 batches", deadline: .seconds(60)) {
                    source.acknowledgedMessages.load(ordering: .relaxed) >= 10
                }
                #expect(source.rejectedMessages.load(ordering: .relaxed) == 1)
                task.cancel()
                _ = await task.result
            }
            let stored = try await Self.records(spool)
            #expect(stored.count == 10)
            var decoder = BatchDecoder()
            var lines: [[UInt8]] = []
            for (index, record) in stored.enumerated() {
                let metadata = try RecordMetadata(decoding: record.metadata)
                #expect(metadata.origin?.origin == origin.spool.id)
                #expect(metadata.origin?.eventCount == 100)
                #expect(metadata.origin?.first == UInt64(index + 1))
                let batch = try decoder.decode(try SealedBatch(serialized: record.payload))
                #expect(batch.host == Self.host)
                lines += batch.events.map(\.line)
            }
            #expect(lines == (0..<1000).map { origin.line($0) })
            await spool.close()
        }
    }

    @Test("events format: one JSON message per event on the host's subject, ids by origin unit and index")
    func eventsFormat() async throws {
        try await Self.withOrigin(lines: 250) { cluster, origin, _ in
            let last = await origin.spool.lastSequence
            let logger = Logger(label: "test.nats-sink")
            let configuration = Self.sinkConfiguration(cluster, stream: "E", subject: "events.{host}", format: .events, cursor: "nats")
            try await Self.publish(NATSSink(configuration: configuration, spool: origin.spool, logger: logger), through: last)

            let client = try await NATSConnection.connect(NATSConnectionOptions(servers: [cluster.servers[0].url]), logger: logger)
            let consumer = try await client.pullConsumer(NATSConsumerConfiguration(stream: "E", durable: "check", filterSubject: "events.*"))
            var messages: [NATSInboundMessage] = []
            for _ in 0..<50 where messages.count < 250 {
                messages += try await consumer.fetch(max: 100, timeout: .seconds(1))
            }
            #expect(messages.count == 250)
            #expect(messages.allSatisfy { $0.subject == "events.web-1_example" })
            let ids = messages.compactMap { $0.headers[NATSConnection.messageIDHeader] }
            #expect(Set(ids).count == 250)
            #expect(ids.first == "\(origin.spool.id):1:0")
            #expect(ids.last == "\(origin.spool.id):3:49")
            let texts = messages.compactMap { message -> String? in
                let object = try? JSONSerialization.jsonObject(with: Data(message.payload)) as? [String: Any]
                #expect(object?["host"] as? String == Self.host)
                return object?["line"] as? String
            }
            #expect(texts == (0..<250).map { TestOrigin.line($0, host: Self.host) })
            await consumer.close()
            await client.close()
        }
    }

    @Test("a batch larger than the server's max_payload is cut into parts that name their events; the source stores every event once")
    func oversizedBatchesAreCut() async throws {
        let directory = try TemporaryDirectory("nats-payload")
        let children = ChildProcesses()
        defer {
            children.killAll()
            directory.remove()
        }
        let config = directory.file("small-payload.conf")
        try "max_payload: 65536\n".write(toFile: config, atomically: true, encoding: .utf8)
        let cluster = try NATSCluster(size: 1, directory: directory.path, children: children, extraArguments: ["--config", config])
        try await cluster.start()
        let logger = Logger(label: "test.nats-payload")
        let origin = try await Spool.open(SpoolConfiguration(directory: directory.file("origin"), fsync: .never), logger: logger)
        // Three batches of 2,000 lines of random hex: about 130 KB compressed each, twice the server's limit.
        var generator = SeededGenerator(seed: 11)
        var encoder = BatchEncoder()
        var expected: [[UInt8]] = []
        for _ in 0..<3 {
            let events = (0..<2000).map { index -> Event in
                let line = Array((0..<64).map { _ in "0123456789abcdef".randomElement(using: &generator)! }.map { $0.asciiValue! })
                expected.append(line)
                return Event(timestamp: UInt64(index), source: "hex", line: line)
            }
            let sealed = try encoder.encode(Batch(host: Self.host, events: events))
            #expect(sealed.compressed.count > 65536)
            _ = try await origin.append(sealed.serialized())
        }
        let last = await origin.lastSequence
        let configuration = Self.sinkConfiguration(cluster, stream: "P", subject: "logs.{host}", format: .batch, cursor: "nats")
        try await Self.publish(NATSSink(configuration: configuration, spool: origin, logger: logger), through: last)
        // Published again from scratch (a crash before the commit): the same cut, the same ids, nothing new stored.
        var replay = configuration
        replay.cursorName = "replay"
        try await Self.publish(NATSSink(configuration: replay, spool: origin, logger: logger), through: last)
        let client = try await NATSConnection.connect(NATSConnectionOptions(servers: [cluster.servers[0].url]), logger: logger)
        let messages = try await client.streamState("P").messages
        #expect(messages >= 6)
        await client.close()

        let spool = try await Spool.open(SpoolConfiguration(directory: directory.file("receiver"), fsync: .never), logger: logger)
        let source = try await NATSSource(
            configuration: NATSSourceConfiguration(
                connection: NATSConnectionOptions(servers: [cluster.servers[0].url]), stream: "P",
                subject: NATSSubjectTemplate("logs.{host}")!),
            spool: spool, logger: logger)
        let task = Task { try await source.run() }
        try await waitUntil("the source to acknowledge every part", deadline: .seconds(60)) {
            source.acknowledgedMessages.load(ordering: .relaxed) >= Int(messages)
        }
        task.cancel()
        _ = await task.result
        var decoder = BatchDecoder()
        var lines: [[UInt8]] = []
        for record in try await Self.records(spool) {
            lines += try decoder.decode(try SealedBatch(serialized: record.payload)).events.map(\.line)
        }
        #expect(lines.count == expected.count)
        #expect(lines == expected)
        await spool.close()
        await origin.close()
        await cluster.stopAll()
    }

    @Test("a full stream: the sink keeps its cursor, says so and retries; once the stream is gone it is made again and the rest is published")
    func fullStreamHoldsTheCursor() async throws {
        try await Self.withOrigin(lines: 1000) { cluster, origin, _ in
            let last = await origin.spool.lastSequence
            let client = try await NATSConnection.connect(NATSConnectionOptions(servers: [cluster.servers[0].url]), logger: Logger(label: "test"))
            // An operator's small stream: a few of the ten batches fit.
            _ = try await client.ensureStream(NATSStreamConfiguration(name: "F", subjects: ["logs.*"], maxBytes: 4096))
            let logs = LogCapture()
            let sink = NATSSink(
                configuration: Self.sinkConfiguration(cluster, stream: "F", subject: "logs.{host}", format: .batch, cursor: "nats"),
                spool: origin.spool, logger: logs.logger(label: "test.nats-sink"))
            let task = Task { try await sink.run() }
            let full = try await logs.waitFor(1, atLeast: .warning, deadline: .seconds(60)).joined(separator: "\n")
            try await waitUntil("a 'stream is full' warning", deadline: .seconds(60)) {
                logs.messages(atLeast: .warning).contains { $0.contains("the stream is full") }
            }
            #expect(full.contains("max bytes is 4096, not -1"), "the existing stream's difference was not named: \(full)")
            let held = await sink.acknowledged
            #expect(held < last)
            // Records are published in groups: the stream may hold part of the group the cursor waits for (the
            // resend drops those by id).
            let stored = try await client.streamState("F").messages
            #expect(stored >= held && stored < last)
            // The operator deletes the stream: the sink makes it again (without a limit) and publishes the rest.
            try await client.deleteStream("F")
            try await waitUntil("the rest to be published", deadline: .seconds(60)) { await sink.acknowledged >= last }
            #expect(try await client.streamState("F").messages == last - held)
            task.cancel()
            _ = await task.result
            await client.close()
        }
    }

    @Test("subject templates: the host becomes one token; the stream takes the wildcard")
    func subjectTemplate() throws {
        let template = try #require(NATSSubjectTemplate("logs.{host}"))
        #expect(template.subject(host: "web-1.example.com") == "logs.web-1_example_com")
        #expect(template.subject(host: "a b*>") == "logs.a_b__")
        #expect(template.subject(host: "") == "logs._")
        #expect(template.streamSubject == "logs.*")
        #expect(NATSSubjectTemplate("fixed.subject")?.streamSubject == "fixed.subject")
        #expect(NATSSubjectTemplate("") == nil)
        #expect(NATSSubjectTemplate("logs..x") == nil)
    }
}
