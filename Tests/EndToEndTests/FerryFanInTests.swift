import Foundation
import LogFerryNode
import LogFerrySpool
import LogFerryTestSupport
import Testing

/// Many senders into one receiver, and a relay that merges small batches (`--rebatch`) before its next hop.
@Suite("Ferry fan-in and rebatching (real processes)", .serialized)
struct FerryFanInTests {
    @Test("200 concurrent senders into one receiver: every sender's events exactly once")
    func hundredsOfSenders() async throws {
        let senders = 200
        let eventsEach = 500
        try await FerryScene.run("ferry-fan-in") { scene in
            let out = try scene.path("out", create: true)
            let receiver = try await scene.node("receiver", ["receive", "--spool", try scene.path("spool-receiver"), "--out", out])
            var origins: [(TestOrigin, UInt64)] = []
            for index in 0..<senders {
                let origin = try await TestOrigin(
                    host: "sender-\(index)", source: "fan", directory: try scene.path("spool-sender-\(index)"),
                    upstreams: [Upstream(host: "127.0.0.1", port: receiver.port)]
                )
                origins.append((origin, try await origin.append(lines: 0..<eventsEach, batchSize: 100)))
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (origin, last) in origins {
                    group.addTask {
                        try await origin.shipping {
                            try await origin.waitUntilAcknowledged(through: last, deadline: .seconds(120), "\(origin.host) acknowledged")
                        }
                    }
                }
                try await group.waitForAll()
            }
            for (origin, _) in origins {
                let file = out + "/\(origin.host)/fan.log"
                let expected = (0..<eventsEach).reduce(0) { $0 + TestOrigin.line($1, host: origin.host).utf8.count + 1 }
                try await waitUntil("\(origin.host)'s events written", deadline: .seconds(60)) {
                    (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int).map { $0 >= expected } ?? false
                }
                let report = OriginOutput.check(paths: [file], host: origin.host, expected: eventsEach)
                #expect(report.isExact, "\(origin.host): \(report)")
            }
            #expect(await receiver.terminate() == .exited(0))
        }
    }

    @Test("--rebatch: a relay merges a backlog of small batches into fewer, bigger ones, exactly once across a kill -9")
    func rebatch() async throws {
        let events = 200_000
        try await FerryScene.run("ferry-rebatch") { scene in
            let out = try scene.path("out", create: true)
            // The receiver is down while the relay takes everything in, so a backlog of small batches waits.
            let gate = try scene.proxy(to: nil)
            let relaySpool = try scene.path("spool-relay")
            let relay = try await scene.node("relay", ["relay", "--spool", relaySpool, "--to", "127.0.0.1:\(gate.port)", "--rebatch", "--backoff-cap-ms", "300"])
            let origin = try await TestOrigin(
                host: "rebatch-origin", source: "small", directory: try scene.path("spool-origin"),
                upstreams: [Upstream(host: "127.0.0.1", port: relay.port)]
            )
            let last = try await origin.append(lines: 0..<events, batchSize: 100)
            try await origin.shipping {
                try await origin.waitUntilAcknowledged(through: last, deadline: .seconds(120), "the origin's batches at the relay")
            }
            let relayBatches = try SpoolInspector.inspect(directory: relaySpool).lastSequence

            let receiverSpool = try scene.path("spool-receiver")
            let receiver = try await scene.node("receiver", ["receive", "--spool", receiverSpool, "--out", out])
            gate.setBackendPort(receiver.port)
            let file = out + "/rebatch-origin/small.log"
            let expected = (0..<events).reduce(0) { $0 + TestOrigin.line($1, host: "rebatch-origin").utf8.count + 1 }
            // Kill the relay once while it forwards, then let it finish.
            try await waitUntil("the first merged batches written", deadline: .seconds(60)) {
                (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int).map { $0 > 0 } ?? false
            }
            await relay.kill9()
            try await relay.start()
            try await waitUntil("all \(events) events written", deadline: .seconds(120)) {
                (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int).map { $0 >= expected } ?? false
            }
            let report = OriginOutput.check(paths: [file], host: "rebatch-origin", expected: events)
            #expect(report.isExact, "after rebatching: \(report)")
            let receiverBatches = try SpoolInspector.inspect(directory: receiverSpool).lastSequence
            print("rebatch: the relay stored \(relayBatches) batches, the receiver \(receiverBatches)")
            #expect(receiverBatches * 4 < relayBatches, "the relay should have merged batches: \(relayBatches) in, \(receiverBatches) out")
            #expect(await relay.terminate() == .exited(0))
            #expect(await receiver.terminate() == .exited(0))
        }
    }
}
