import Foundation
import LogFerryNATS
import LogFerryTestSupport
import Testing

@Suite(.enabled(if: NATSCluster.isAvailable, "nats-server is not installed"))
struct NATSConnectionTests {
    @Test func streamIsCreatedWhenMissingAndAnExistingOneIsReportedWithItsDifferences() async throws {
        try await withNATSServer { cluster in
            let connection = try await connect(cluster)
            let wanted = NATSStreamConfiguration(name: "LOGS", subjects: ["logs.*"], replicas: 1, maxBytes: 1 << 20, maxAge: .seconds(3600))
            #expect(try await connection.ensureStream(wanted) == .created)
            #expect(try await connection.ensureStream(wanted) == .matches)
            var other = wanted
            other.maxBytes = 2 << 20
            other.subjects = ["other.*"]
            other.maxAge = nil
            guard case .differs(let differences) = try await connection.ensureStream(other) else {
                Issue.record("an existing stream with other settings was not reported")
                return
            }
            #expect(differences.count == 3)
            #expect(differences.contains { $0.contains("max age is 3600.0 seconds, not unlimited") })
            #expect(differences.contains { $0.contains("max bytes is 1048576, not 2097152") })
            #expect(differences.contains { $0.contains("subjects") && $0.contains("other.*") })
            // Used as it is: still the first settings.
            #expect(try await connection.ensureStream(wanted) == .matches)
            await connection.close()
        }
    }

    @Test func publishIsAcknowledgedAndAResendWithTheSameIdsIsDroppedByTheStream() async throws {
        try await withNATSServer { cluster in
            let connection = try await connect(cluster)
            _ = try await connection.ensureStream(NATSStreamConfiguration(name: "LOGS", subjects: ["logs.*"]))
            let messages = (1...50).map { index in
                NATSOutboundMessage(
                    subject: "logs.h\(index % 3)", id: "origin:\(index)", headers: [("X-Index", "\(index)")],
                    payload: Array("message \(index)".utf8))
            }
            let first = try await connection.publish(messages, timeout: .seconds(10))
            #expect(first.stored == 50)
            #expect(first.duplicates == 0)
            #expect(first.lastSequence == 50)
            // A resend after a crash: same ids, nothing stored twice.
            let again = try await connection.publish(Array(messages[10..<30]), timeout: .seconds(10))
            #expect(again.stored == 0)
            #expect(again.duplicates == 20)
            #expect(try await connection.streamState("LOGS").messages == 50)
            await connection.close()
        }
    }

    @Test func durableConsumerDeliversWithHeadersRedeliversWhatIsNotAckedAndResumesAfterARestart() async throws {
        try await withNATSServer { cluster in
            let publisher = try await connect(cluster)
            _ = try await publisher.ensureStream(NATSStreamConfiguration(name: "LOGS", subjects: ["logs.*"]))
            let messages = (1...10).map {
                NATSOutboundMessage(subject: "logs.a", id: "m\($0)", headers: [("X-Index", "\($0)")], payload: [UInt8($0)])
            }
            _ = try await publisher.publish(messages, timeout: .seconds(10))

            let reader = try await connect(cluster)
            let configuration = NATSConsumerConfiguration(
                stream: "LOGS", durable: "readers", filterSubject: "logs.*", ackWait: .seconds(1))
            let consumer = try await reader.pullConsumer(configuration)
            var fetched: [NATSInboundMessage] = []
            for _ in 0..<20 where fetched.count < 10 {
                fetched += try await consumer.fetch(max: 10, timeout: .seconds(2))
            }
            #expect(fetched.map(\.payload) == (1...10).map { [UInt8($0)] })
            #expect(fetched.map { $0.headers["X-Index"] } == (1...10).map { "\($0)" })
            #expect(fetched.map { $0.headers[NATSConnection.messageIDHeader] } == (1...10).map { "m\($0)" })
            #expect(fetched.allSatisfy { !$0.isRedelivery && $0.subject == "logs.a" })
            #expect(fetched.last?.pending == 0)
            // Ack the first five; the rest come again after the ack wait, marked as redeliveries.
            for message in fetched.prefix(5) { try await consumer.ack(message) }
            try await consumer.flush(timeout: .seconds(5))
            var redelivered: [NATSInboundMessage] = []
            for _ in 0..<20 where redelivered.count < 5 {
                redelivered += try await consumer.fetch(max: 10, timeout: .seconds(2))
            }
            #expect(redelivered.map(\.payload) == (6...10).map { [UInt8($0)] })
            #expect(redelivered.allSatisfy { $0.isRedelivery && $0.deliveryCount == 2 })
            for message in redelivered { try await consumer.ack(message) }
            try await consumer.flush(timeout: .seconds(5))
            await consumer.close()
            await reader.close()

            // A new reader of the same durable consumer continues after what was acknowledged.
            _ = try await publisher.publish(
                [NATSOutboundMessage(subject: "logs.b", id: "m11", payload: [11])], timeout: .seconds(10))
            let again = try await connect(cluster)
            let resumed = try await again.pullConsumer(configuration)
            var next: [NATSInboundMessage] = []
            for _ in 0..<10 where next.isEmpty {
                next += try await resumed.fetch(max: 10, timeout: .seconds(2))
            }
            #expect(next.map(\.payload) == [[11]])
            await resumed.close()
            await again.close()
            await publisher.close()
        }
    }

    @Test func noServerIsAClearError() async throws {
        let port = try freeTCPPort()
        do {
            _ = try await NATSConnection.connect(
                NATSConnectionOptions(servers: ["nats://127.0.0.1:\(port)"]), logger: .init(label: "test"))
            Issue.record("connected to a port where nothing listens")
        } catch let error as NATSError {
            #expect(error.kind == .noServers)
            #expect("\(error)".contains("127.0.0.1:\(port)"))
            #expect("\(error)".contains("no NATS server is reachable"))
        }
    }

    @Test func aServerWithoutJetStreamIsAClearError() async throws {
        try await withNATSServer(jetStream: false) { cluster in
            let connection = try await connect(cluster)
            do {
                _ = try await connection.ensureStream(NATSStreamConfiguration(name: "LOGS", subjects: ["logs.*"]))
                Issue.record("a stream was made on a server without JetStream")
            } catch let error as NATSError {
                #expect(error.kind == .noJetStream)
                #expect("\(error)".contains("-js"))
            }
            await connection.close()
        }
    }

    @Test func aFullStreamRefusesWithAClearError() async throws {
        try await withNATSServer { cluster in
            let connection = try await connect(cluster)
            _ = try await connection.ensureStream(NATSStreamConfiguration(name: "SMALL", subjects: ["small.*"], maxBytes: 4096))
            let big = [UInt8](repeating: 7, count: 1500)
            var refusal: NATSError?
            for index in 0..<10 where refusal == nil {
                do {
                    _ = try await connection.publish(
                        [NATSOutboundMessage(subject: "small.x", id: "b\(index)", payload: big)], timeout: .seconds(5))
                } catch let error as NATSError {
                    refusal = error
                }
            }
            #expect(refusal?.kind == .streamFull)
            #expect(refusal.map { "\($0)".contains("stream is full") } == true)
            await connection.close()
        }
    }

    @Test func aPermissionViolationIsNamed() async throws {
        let directory = try TemporaryDirectory("nats-config")
        defer { directory.remove() }
        let config = directory.file("auth.conf")
        try """
        authorization {
          users = [
            { user: "admin", password: "admin" }
            { user: "reader", password: "reader", permissions: { publish: { deny: ">" }, subscribe: { allow: ">" } } }
          ]
        }
        """.write(toFile: config, atomically: true, encoding: .utf8)
        try await withNATSServer(extraArguments: ["--config", config]) { cluster in
            let admin = try await connect(cluster, user: "admin:admin")
            _ = try await admin.ensureStream(NATSStreamConfiguration(name: "LOGS", subjects: ["logs.*"]))
            await admin.close()
            let reader = try await connect(cluster, user: "reader:reader")
            do {
                _ = try await reader.publish([NATSOutboundMessage(subject: "logs.x", id: "1", payload: [1])], timeout: .seconds(3))
                Issue.record("a user denied publishing published")
            } catch let error as NATSError {
                #expect(error.kind == .permissionDenied)
                #expect("\(error)".contains("permission denied"))
            }
            await reader.close()
        }
    }
}
