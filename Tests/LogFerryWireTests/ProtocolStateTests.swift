import LogFerryWire
import Testing

@Suite("Protocol state machines")
struct ProtocolStateTests {
    static let spoolID = (0..<16).map { UInt8($0) }
    static let key = Array("s3cret".utf8)

    static func sealed() throws -> SealedBatch {
        var encoder = BatchEncoder()
        return try encoder.encode(Samples.vectorBatch)
    }

    /// Runs the handshake between the two pure states, as a connection would, returning both.
    static func handshake(
        serverKey: [UInt8]? = key, clientKey: [UInt8]? = key, resume: UInt64 = 0, limits: WireLimits = .default
    ) throws -> (ServerProtocolState, ClientProtocolState) {
        var server = ServerProtocolState(limits: limits, key: serverKey)
        var client = ClientProtocolState(spoolID: spoolID, hostName: "web-1", key: clientKey)
        let hello = try server.makeHello()
        guard case .send(let clientHello) = try client.receive(hello) else {
            Issue.record("client did not answer the hello")
            return (server, client)
        }
        guard case .authenticated(let peer) = try server.receive(clientHello) else {
            Issue.record("server did not authenticate")
            return (server, client)
        }
        #expect(peer.spoolID == spoolID && peer.hostName == "web-1")
        let welcome = try server.welcome(resumeSequence: resume)
        #expect(try client.receive(welcome) == .resume(Welcome(resumeSequence: resume)))
        return (server, client)
    }

    @Test("the handshake with a shared key establishes both sides")
    func handshakeWithKey() throws {
        let (server, client) = try Self.handshake(resume: 17)
        #expect(server.phase == .established && client.phase == .established)
        #expect(client.acknowledged == 17 && client.serverLimits == .default && client.version == 1)
    }

    @Test("the handshake without any key works when the server requires none")
    func handshakeWithoutKey() throws {
        let (server, client) = try Self.handshake(serverKey: nil, clientKey: nil)
        #expect(server.phase == .established && client.phase == .established)
    }

    @Test("a wrong key or a missing proof is refused as unauthorized and closes the connection")
    func wrongKey() throws {
        for clientKey in [Array("wrong".utf8), nil] {
            var server = ServerProtocolState(key: Self.key)
            var client = ClientProtocolState(spoolID: Self.spoolID, hostName: "web-1", key: clientKey)
            guard case .send(let clientHello) = try client.receive(try server.makeHello()) else {
                Issue.record("no client hello")
                continue
            }
            guard case .refuseAndClose(let refusal) = try server.receive(clientHello),
                case .refuse(let body) = refusal
            else {
                Issue.record("wrong key was not refused")
                continue
            }
            #expect(body.code == .unauthorized)
            #expect(server.phase == .closed)
            #expect(try client.receive(refusal) == .refused(body))
            #expect(client.phase == .closed)
            // Nothing more is accepted on this connection.
            #expect(throws: WireError.self) { try server.receive(.batch(BatchFrame(sequence: 1, batch: try Self.sealed()))) }
        }
    }

    @Test("a proof made for another nonce (a replay) is refused")
    func replayedProof() throws {
        var server = ServerProtocolState(key: Self.key)
        guard case .serverHello = try server.makeHello() else { return }
        let proof = HandshakeAuth.proof(key: Self.key, nonce: [UInt8](repeating: 9, count: 32), spoolID: Self.spoolID, hostName: "web-1")
        let action = try server.receive(.clientHello(ClientHello(version: 1, spoolID: Self.spoolID, hostName: "web-1", proof: proof)))
        guard case .refuseAndClose(.refuse(let refusal)) = action else {
            Issue.record("replayed proof accepted: \(action)")
            return
        }
        #expect(refusal.code == .unauthorized)
    }

    @Test("HandshakeAuth verifies its own proofs and nothing else")
    func auth() {
        let nonce = [UInt8](repeating: 1, count: 32)
        let proof = HandshakeAuth.proof(key: Self.key, nonce: nonce, spoolID: Self.spoolID, hostName: "h")
        #expect(proof.count == 32)
        #expect(HandshakeAuth.verify(proof: proof, key: Self.key, nonce: nonce, spoolID: Self.spoolID, hostName: "h"))
        #expect(!HandshakeAuth.verify(proof: proof, key: Self.key, nonce: nonce, spoolID: Self.spoolID, hostName: "h2"))
        #expect(!HandshakeAuth.verify(proof: proof, key: [1], nonce: nonce, spoolID: Self.spoolID, hostName: "h"))
        #expect(!HandshakeAuth.verify(proof: Array(proof.dropLast()), key: Self.key, nonce: nonce, spoolID: Self.spoolID, hostName: "h"))
        #expect(!HandshakeAuth.verify(proof: [], key: Self.key, nonce: nonce, spoolID: Self.spoolID, hostName: "h"))
    }

    @Test("unsupported versions: the server refuses, the client gives a typed error")
    func versions() throws {
        var server = ServerProtocolState(key: nil)
        _ = try server.makeHello()
        let action = try server.receive(.clientHello(ClientHello(version: 9, spoolID: Self.spoolID, hostName: "h", proof: [])))
        guard case .refuseAndClose(.refuse(let refusal)) = action else {
            Issue.record("version 9 accepted")
            return
        }
        #expect(refusal.code == .unsupportedVersion)

        var client = ClientProtocolState(spoolID: Self.spoolID, hostName: "h", key: nil)
        let hello = Frame.serverHello(ServerHello(versionMin: 2, versionMax: 5, nonce: [UInt8](repeating: 0, count: 32), limits: .default))
        let error = #expect(throws: WireError.self) { try client.receive(hello) }
        #expect(error?.label == "unsupported_version")
    }

    @Test("a batch before the hello, or before the welcome, is illegal")
    func batchBeforeHello() throws {
        let batch = Frame.batch(BatchFrame(sequence: 1, batch: try Self.sealed()))
        var fresh = ServerProtocolState(key: nil)
        #expect(throws: WireError.self) { try fresh.receive(batch) }
        var server = ServerProtocolState(key: nil)
        _ = try server.makeHello()
        let error = #expect(throws: WireError.self) { try server.receive(batch) }
        #expect(error?.label == "illegal_frame")
        _ = try server.receive(.clientHello(ClientHello(version: 1, spoolID: Self.spoolID, hostName: "h", proof: [])))
        #expect(throws: WireError.self) { try server.receive(batch) }  // authenticated, not yet welcomed
    }

    @Test("frames in an illegal order are refused on both sides")
    func illegalOrder() throws {
        var (server, client) = try Self.handshake()
        let hello = Frame.clientHello(ClientHello(version: 1, spoolID: Self.spoolID, hostName: "h", proof: []))
        for frame in [hello, .welcome(Welcome(resumeSequence: 1)), .ack(1),
                      .serverHello(ServerHello(versionMin: 1, versionMax: 1, nonce: [UInt8](repeating: 0, count: 32), limits: .default)),
                      .refuse(Refusal(sequence: 1, code: .malformed, reason: ""))] {
            #expect(throws: WireError.self) { try server.receive(frame) }
        }
        for frame in [hello, .batch(BatchFrame(sequence: 1, batch: try Self.sealed())), .welcome(Welcome(resumeSequence: 1))] {
            #expect(throws: WireError.self) { try client.receive(frame) }
        }
        var waiting = ClientProtocolState(spoolID: Self.spoolID, hostName: "h", key: nil)
        #expect(throws: WireError.self) { try waiting.receive(.ack(1)) }
        #expect(throws: WireError.self) { try waiting.receive(.welcome(Welcome(resumeSequence: 0))) }
        #expect(try waiting.receive(.heartbeat) == ClientProtocolState.Action.none)
    }

    @Test("batches are stored in order and acked cumulatively after they are durable")
    func storeAndAck() throws {
        var (server, client) = try Self.handshake(resume: 10)
        let sealed = try Self.sealed()
        var frames: [BatchFrame] = []
        for sequence: UInt64 in [11, 12, 14] {  // 13 was quarantined by the sender: gaps are fine
            let frame = BatchFrame(sequence: sequence, batch: sealed)
            let wire = try client.send(frame)
            guard case .batch(let received) = wire, case .store(let toStore) = try server.receive(wire) else {
                Issue.record("batch \(sequence) not stored")
                return
            }
            #expect(toStore == received)
            frames.append(toStore)
        }
        #expect(client.inFlight.count == 3)
        var lastAck: Frame?
        for frame in frames { lastAck = server.stored(frame) }
        #expect(lastAck == .ack(14))
        #expect(try client.receive(.ack(14)) == .acknowledged(14))
        #expect(client.inFlight.isEmpty)
        // A resend of something durable gets the ack again and is not stored twice.
        #expect(try server.receive(.batch(BatchFrame(sequence: 12, batch: sealed))) == .reply(.ack(14)))
        // An ack beyond what was sent, or going backwards, is a protocol violation.
        #expect(throws: WireError.self) { try client.receive(.ack(15)) }
        #expect(throws: WireError.self) { try client.receive(.ack(13)) }
    }

    @Test("after a retry-later refusal later batches are refused until the refused one is resent")
    func retryLaterBlocks() throws {
        var (server, client) = try Self.handshake()
        let sealed = try Self.sealed()
        let one = BatchFrame(sequence: 1, batch: sealed)
        let two = BatchFrame(sequence: 2, batch: sealed)
        _ = try server.receive(try client.send(one))
        _ = try server.receive(try client.send(two))
        // The node could not store 1 (spool full); it drops 2, which it had queued.
        let refusal = server.refused(one, code: .retryLater, reason: "spool full")
        guard case .refused(let body) = try client.receive(refusal) else {
            Issue.record("client did not see the refusal")
            return
        }
        #expect(body.code == .retryLater && body.sequence == 1)
        #expect(client.inFlight.isEmpty)  // everything unacked is resent after the backoff
        let three = BatchFrame(sequence: 3, batch: sealed)
        guard case .reply(.refuse(let early)) = try server.receive(.batch(three)) else {
            Issue.record("batch 3 accepted before 1 was resent")
            return
        }
        #expect(early.code == .retryLater)
        #expect(try server.receive(try client.send(one)) == .store(one))
        #expect(try server.receive(try client.send(two)) == .store(two))
    }

    @Test("a too-large batch is refused by the limits, and its split parts are taken in order")
    func tooLargeThenParts() throws {
        let limits = WireLimits(maxFrameBytes: 1 << 20, maxUncompressedBytes: 1 << 20, maxEventsPerBatch: 2, maxWindow: 8)
        var (server, client) = try Self.handshake(limits: limits)
        var encoder = BatchEncoder()
        let whole = try encoder.encode(Samples.vectorBatch)  // 3 events > 2
        let frame = BatchFrame(sequence: 1, batch: whole)
        guard case .reply(let refusal) = try server.receive(try client.send(frame)),
            case .refused(let body) = try client.receive(refusal)
        else {
            Issue.record("too-large batch accepted")
            return
        }
        #expect(body.code == .tooLarge)
        let parts = try encoder.encodeParts(Samples.vectorBatch, fitting: try #require(client.serverLimits))
        #expect(parts.count == 2)
        let first = BatchFrame(sequence: 1, part: 0, partCount: 2, batch: parts[0])
        let second = BatchFrame(sequence: 1, part: 1, partCount: 2, batch: parts[1])
        // Out of order: part 1 first is refused.
        guard case .reply(.refuse(let outOfOrder)) = try server.receive(.batch(second)) else {
            Issue.record("part 1 accepted before part 0")
            return
        }
        #expect(outOfOrder.code == .malformed)
        #expect(try server.receive(try client.send(first)) == .store(first))
        #expect(server.stored(first) == nil)  // no ack until the last part
        #expect(try server.receive(try client.send(second)) == .store(second))
        #expect(server.stored(second) == .ack(1))
    }

    @Test("a welcome with a resume part expects the remaining parts of the next batch")
    func resumePart() throws {
        var server = ServerProtocolState(key: nil)
        _ = try server.makeHello()
        _ = try server.receive(.clientHello(ClientHello(version: 1, spoolID: Self.spoolID, hostName: "h", proof: [])))
        #expect(try server.welcome(resumeSequence: 5, resumePart: 2) == .welcome(Welcome(resumeSequence: 5, resumePart: 2)))
        let sealed = try Self.sealed()
        #expect(try server.receive(.batch(BatchFrame(sequence: 6, part: 1, partCount: 3, batch: sealed))) == .none)
        let third = BatchFrame(sequence: 6, part: 2, partCount: 3, batch: sealed)
        #expect(try server.receive(.batch(third)) == .store(third))
        #expect(server.stored(third) == .ack(6))
    }

    @Test("the client keeps at most the server's window in flight")
    func window() throws {
        let limits = WireLimits(maxFrameBytes: 1 << 20, maxUncompressedBytes: 1 << 20, maxEventsPerBatch: 100, maxWindow: 2)
        var (_, client) = try Self.handshake(limits: limits)
        let sealed = try Self.sealed()
        _ = try client.send(BatchFrame(sequence: 1, batch: sealed))
        _ = try client.send(BatchFrame(sequence: 2, batch: sealed))
        #expect(!client.canSend)
        #expect(throws: WireError.self) { try client.send(BatchFrame(sequence: 3, batch: sealed)) }
        _ = try client.receive(.ack(1))
        #expect(client.canSend)
    }

    @Test("heartbeats are legal in every open phase and bye closes either side")
    func heartbeatsAndBye() throws {
        var (server, client) = try Self.handshake()
        #expect(try server.receive(.heartbeat) == .none)
        #expect(try client.receive(.heartbeat) == .none)
        #expect(try client.receive(.bye("restarting")) == .closed("restarting"))
        #expect(client.phase == .closed)
        #expect(throws: WireError.self) { try client.receive(.heartbeat) }
        #expect(try server.receive(.bye("done")) == .close("done"))
        #expect(throws: WireError.self) { try server.receive(.heartbeat) }
    }
}
