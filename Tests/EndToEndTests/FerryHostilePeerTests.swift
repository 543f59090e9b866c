import Foundation
import LogFerryNode
import LogFerrySpool
import LogFerryTestSupport
import LogFerryWire
import Testing

/// Hostile and broken peers against a real `logferry receive` with a shared key and a 15-second idle timeout (8 s
/// was tripped once by a loaded test machine during a normal handshake).
///
/// Each bad peer speaks to the listener over a raw TCP connection and reads the answer with the real frame
/// decoder: it must be refused with the right code and a reason an operator can act on, and must not disturb a
/// good sender (the real ``FerrySink``) that ships on another connection the whole time: after every hostile
/// peer the good sender's latest batch is acknowledged, and at the end the receiver holds every good line
/// exactly once and nothing from the bad peers.
@Suite("Hostile ferry peers (real processes)", .serialized)
struct FerryHostilePeerTests {
    static let key = Array("correct horse battery staple".utf8)

    /// A receiver with a key and a short idle timeout, a good origin shipping to it, and `body` run while the
    /// origin keeps appending; then checks the good origin's lines arrived exactly once.
    func withGoodSender(
        _ label: String,
        _ body: (_ port: Int, _ progress: () async throws -> Void) async throws -> Void
    ) async throws {
        try await FerryScene.run(label) { scene in
            let keyFile = try scene.path("key")
            try Data((String(decoding: Self.key, as: UTF8.self) + "\n").utf8).write(to: URL(fileURLWithPath: keyFile))
            let out = try scene.path("out", create: true)
            let receiver = try await scene.node("receiver", [
                "receive", "--spool", try scene.path("spool-receiver"), "--out", out,
                "--key-file", keyFile, "--idle-timeout", "15",
            ])
            let origin = try await TestOrigin(
                host: "good-origin", source: "good", directory: try scene.path("spool-origin"),
                upstreams: [Upstream(host: "127.0.0.1", port: receiver.port)], key: Self.key
            )
            let batchSize = 500
            let appended = try await origin.shipping {
                let stop = Flag()
                let producer = Task {
                    var next = 0
                    while !stop.isSet {
                        try await origin.append(lines: next..<(next + batchSize), batchSize: batchSize)
                        next += batchSize
                        try await Task.sleep(for: .milliseconds(50))
                    }
                    return next
                }
                let progress: () async throws -> Void = {
                    let last = await origin.spool.lastSequence
                    try await origin.waitUntilAcknowledged(through: last, deadline: .seconds(30),
                        "the good sender's batch \(last) to be acknowledged")
                }
                do {
                    try await body(receiver.port, progress)
                } catch {
                    stop.set()
                    _ = await producer.result
                    throw error
                }
                stop.set()
                let appended = try await producer.value
                try await progress()
                return appended
            }
            #expect(await receiver.terminate() == .exited(0))
            let report = OriginOutput.check(paths: [out + "/good-origin/good.log"], host: "good-origin", expected: appended)
            #expect(report.isExact, "the good sender's output: \(report)")
            let hosts = ((try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []).filter { !$0.hasPrefix(".") }
            #expect(hosts == ["good-origin"], "only the good sender may have written output, found \(hosts)")
        }
    }

    static func spoolID() -> [UInt8] { (0..<16).map { _ in UInt8.random(in: 0...255) } }

    @Test("wrong or missing shared key: refused as unauthorized, connection closed; the good sender carries on")
    func wrongKey() async throws {
        try await withGoodSender("ferry-hostile-key") { port, progress in
            for (name, key) in [("wrong key", Array("not the key".utf8)), ("no key", nil)] as [(String, [UInt8]?)] {
                try await RawFerryConnection.with(port: port) { connection in
                    let answer = try await connection.handshake(spoolID: Self.spoolID(), hostName: "intruder", key: key)
                    guard case .refuse(let refusal) = answer else {
                        Issue.record("\(name): expected a refusal, got \(String(describing: answer))")
                        return
                    }
                    #expect(refusal.code == .unauthorized, "\(name): \(refusal)")
                    #expect(refusal.sequence == 0)
                    #expect(refusal.reason.contains("key"), "\(name): reason should name the key: \(refusal.reason)")
                    #expect(try await connection.framesUntilClosed().isEmpty, "\(name): connection should close after the refusal")
                }
                try await progress()
            }
        }
    }

    @Test("unsupported protocol version: refused as unsupported-version; the good sender carries on")
    func wrongVersion() async throws {
        try await withGoodSender("ferry-hostile-version") { port, progress in
            try await RawFerryConnection.with(port: port) { connection in
                let answer = try await connection.handshake(spoolID: Self.spoolID(), hostName: "time-traveller", key: Self.key, version: 99)
                guard case .refuse(let refusal) = answer else {
                    Issue.record("expected a refusal, got \(String(describing: answer))")
                    return
                }
                #expect(refusal.code == .unsupportedVersion, "\(refusal)")
                #expect(refusal.reason.contains("99"), "the reason should name the offered version: \(refusal.reason)")
                #expect(try await connection.framesUntilClosed().isEmpty, "connection should close after the refusal")
            }
            try await progress()
        }
    }

    @Test("garbage bytes instead of frames: refused as a protocol violation and closed; the good sender carries on")
    func garbageBytes() async throws {
        try await withGoodSender("ferry-hostile-garbage") { port, progress in
            let garbage: [(String, [UInt8])] = [
                ("an HTTP request", Array("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)),
                ("a frame of unknown type 99", [0, 0, 0, 5, 99, 1, 2, 3, 4]),
                ("a client hello with a 3-byte spool id", [0, 0, 0, 12, Frame.Kind.clientHello.rawValue, 0, 1, 0, 3, 1, 2, 3, 0, 0, 0, 0]),
            ]
            for (name, bytes) in garbage {
                try await RawFerryConnection.with(port: port) { connection in
                    _ = try await connection.serverHello()
                    try await connection.send(bytes: bytes)
                    let frames = try await connection.framesUntilClosed()
                    let refusals = frames.compactMap { frame -> Refusal? in
                        if case .refuse(let refusal) = frame { return refusal }
                        return nil
                    }
                    #expect(refusals.map(\.code) == [.protocolViolation],
                        "\(name): expected one protocol-violation refusal before the close, got \(frames)")
                    #expect(refusals.allSatisfy { !$0.reason.isEmpty })
                }
                try await progress()
            }
        }
    }

    @Test("zip bomb (declares 1 KiB, inflates to 16 MiB): refused as malformed, nothing stored; the good sender carries on")
    func zipBomb() async throws {
        var encoder = BatchEncoder()
        let honest = try encoder.encode(Batch(host: "zip-bomb", events: [
            Event(timestamp: 1, source: "bomb", line: [UInt8](repeating: UInt8(ascii: "A"), count: 16 << 20)),
        ]))
        // Same compressed bytes and CRC (it covers the compressed bytes), but a tiny declared size.
        let bomb = SealedBatch(eventCount: 1, uncompressedSize: 1024, crc32c: honest.crc32c, compressed: honest.compressed)
        try await withGoodSender("ferry-hostile-zip-bomb") { port, progress in
            try await RawFerryConnection.with(port: port) { connection in
                let answer = try await connection.handshake(spoolID: Self.spoolID(), hostName: "zip-bomb", key: Self.key)
                guard case .welcome(let welcome) = answer else {
                    Issue.record("expected a welcome, got \(String(describing: answer))")
                    return
                }
                let spoolID = Self.spoolID()
                let origin = BatchOrigin(spoolID: spoolID, sequence: welcome.resumeSequence + 1, events: 1)
                try await connection.send(.batch(BatchFrame(sequence: welcome.resumeSequence + 1, origin: origin, batch: bomb)))
                let reply = try await connection.nextAnswer()
                guard case .refuse(let refusal) = reply else {
                    Issue.record("expected a refusal of the bomb, got \(String(describing: reply))")
                    return
                }
                #expect(refusal.code == .malformed, "\(refusal)")
                #expect(refusal.sequence == welcome.resumeSequence + 1)
                #expect(refusal.reason.contains("inflate"), "the reason should say the batch inflates too far: \(refusal.reason)")
                // The connection survives a malformed batch: a heartbeat is still answered.
                try await connection.send(.heartbeat)
                #expect(try await connection.nextFrame() == .heartbeat)
            }
            try await progress()
        }
    }

    @Test("slow client, one byte a second: refused and closed when its hello is not complete within the 15 s liveness timeout; the good sender carries on")
    func slowClient() async throws {
        try await withGoodSender("ferry-hostile-slow") { port, progress in
            try await RawFerryConnection.with(port: port) { connection in
                let hello = try await connection.serverHello()
                let spoolID = Self.spoolID()
                let bytes = Frame.clientHello(ClientHello(
                    version: ProtocolVersion.current, spoolID: spoolID, hostName: "molasses",
                    proof: HandshakeAuth.proof(key: Self.key, nonce: hello.nonce, spoolID: spoolID, hostName: "molasses")
                )).encodedBytes()
                let sent = TallyCounter()
                let dribble = Task {
                    for byte in bytes {
                        try await connection.send(bytes: [byte])
                        sent.increment()
                        try await Task.sleep(for: .seconds(1))
                    }
                }
                let frames = try await withDeadline(.seconds(60), "the slow client to be closed") {
                    try await connection.framesUntilClosed()
                }
                dribble.cancel()
                _ = await dribble.result
                let refusals = frames.compactMap { frame -> Refusal? in
                    if case .refuse(let refusal) = frame { return refusal }
                    return nil
                }
                #expect(refusals.count == 1 && refusals.first?.code == .protocolViolation, "expected one refusal, got \(frames)")
                #expect(refusals.first?.reason.contains("no client hello") == true, "\(refusals)")
                #expect(sent.value < bytes.count, "closed only after the whole hello (\(sent.value) of \(bytes.count) bytes) had dribbled in")
            }
            try await progress()
        }
    }
}
