import LogFerryTestSupport
import LogFerryWire
import Testing

// MARK: - Helpers (this file only)

/// The spool id of the sender's own batches (the one `Samples.ownOrigin` uses).
private let ownSpool = (0..<16).map { UInt8(0xA0 + $0) }

/// A batch the state machines carry but never open: they look only at its event count and sizes.
private func fakeSealed(events: UInt32 = 3) -> SealedBatch {
    SealedBatch(eventCount: events, uncompressedSize: 100 * events, crc32c: 0, compressed: [UInt8](repeating: 0x5A, count: 32))
}

/// Record `sequence` of the sender's own spool as one frame, or as part `part` of `partCount` (`events` each).
private func record(_ sequence: UInt64, part: UInt16 = 0, of partCount: UInt16 = 1, events: UInt32 = 3) -> BatchFrame {
    let origin = partCount == 1
        ? Samples.ownOrigin(sequence, events: events)
        : Samples.origin(ownSpool, sequence...sequence, [events * UInt32(partCount)], fragmentStart: events * UInt32(part))
    return BatchFrame(sequence: sequence, part: part, partCount: partCount, origin: origin, batch: fakeSealed(events: events))
}

extension ServerProtocolState.Action {
    /// The refusal sent before the connection closes, if this is one.
    fileprivate var closingRefusal: Refusal? {
        if case .refuseAndClose(.refuse(let refusal)) = self { return refusal }
        return nil
    }

    /// The refusal sent on a connection that stays open, if this is one.
    fileprivate var openRefusal: Refusal? {
        if case .reply(.refuse(let refusal)) = self { return refusal }
        return nil
    }

    fileprivate var peer: ClientHello? {
        if case .authenticated(let hello) = self { return hello }
        return nil
    }
}

extension ClientProtocolState.Action {
    fileprivate var sentFrame: Frame? {
        if case .send(let frame) = self { return frame }
        return nil
    }
}

extension ClientProtocolState {
    fileprivate var inFlightSequences: [UInt64] { inFlight.map(\.sequence) }
}

extension Frame {
    fileprivate var refusal: Refusal? {
        if case .refuse(let refusal) = self { return refusal }
        return nil
    }
}

@Suite("Protocol state machines")
struct ProtocolStateTests {
    static let spoolID = (0..<16).map { UInt8($0) }
    static let key = Array("s3cret".utf8)
    static let nonce = [UInt8](repeating: 7, count: ServerHello.nonceSize)

    /// A hello as a version-2 server with `limits` would send it.
    static func serverHello(limits: WireLimits = .default, versions: ClosedRange<UInt16> = 2...2) -> Frame {
        .serverHello(ServerHello(versionMin: versions.lowerBound, versionMax: versions.upperBound, nonce: nonce, limits: limits))
    }

    /// Every frame a client could send, and a few it never should.
    static let everyFrame: [Frame] = [
        .clientHello(ClientHello(version: 2, spoolID: spoolID, hostName: "web-1", proof: [])),
        .batch(record(1)),
        .heartbeat,
        .bye("done"),
        .ack(1),
        .welcome(Welcome(resumeSequence: 0)),
        serverHello(),
        .refuse(Refusal(sequence: 1, code: .malformed, reason: "no")),
    ]

    /// Runs the handshake between the two pure states, as a connection would, returning both.
    static func handshake(
        serverKey: [UInt8]? = key, clientKey: [UInt8]? = key, resume: UInt64 = 0, acknowledged: UInt64 = 0,
        window: Int = 16, limits: WireLimits = .default
    ) throws -> (ServerProtocolState, ClientProtocolState) {
        var server = ServerProtocolState(limits: limits, key: serverKey)
        var client = ClientProtocolState(
            spoolID: spoolID, hostName: "web-1", key: clientKey, acknowledged: acknowledged, window: window)
        let hello = try server.makeHello()
        let clientHello = try #require(try client.receive(hello).sentFrame)
        let peer = try #require(server.receive(clientHello).peer)
        #expect(peer.spoolID == spoolID && peer.hostName == "web-1" && peer.version == 2)
        let welcome = try server.welcome(resumeSequence: resume)
        #expect(welcome == .welcome(Welcome(resumeSequence: resume)))
        #expect(try client.receive(welcome)
            == .resume(resumeAfter: max(resume, acknowledged), welcome: Welcome(resumeSequence: resume)))
        return (server, client)
    }

    /// A client that went through the handshake with a server announcing `limits` and resuming at `resume`.
    static func establishedClient(
        acknowledged: UInt64 = 0, resume: UInt64 = 0, window: Int = 16, limits: WireLimits = .default
    ) throws -> ClientProtocolState {
        var client = ClientProtocolState(spoolID: spoolID, hostName: "web-1", key: nil, acknowledged: acknowledged, window: window)
        _ = try #require(try client.receive(serverHello(limits: limits)).sentFrame)
        _ = try client.receive(.welcome(Welcome(resumeSequence: resume)))
        try #require(client.phase == .established)
        return client
    }

    // MARK: - Handshake

    @Test("the handshake with a shared key establishes both sides")
    func handshakeWithKey() throws {
        let (server, client) = try Self.handshake(resume: 17)
        #expect(server.phase == .established && client.phase == .established)
        // The resume point is advice to the client; the server acknowledges from nothing on a new connection.
        #expect(server.acknowledged == 0 && server.client?.spoolID == Self.spoolID)
        #expect(client.commitPoint == 17 && client.serverLimits == .default && client.version == ProtocolVersion.current)
        #expect(client.inFlight.isEmpty && client.canSend)
    }

    @Test("the handshake without any key works when the server requires none, and a keyless server ignores a proof")
    func handshakeWithoutKey() throws {
        let (server, client) = try Self.handshake(serverKey: nil, clientKey: nil)
        #expect(server.phase == .established && client.phase == .established)
        let (other, _) = try Self.handshake(serverKey: nil, clientKey: Self.key)
        #expect(other.phase == .established)
    }

    @Test("a wrong key or a missing proof is refused as unauthorized and closes the connection")
    func wrongKey() throws {
        for clientKey in [Array("wrong".utf8), nil] {
            var server = ServerProtocolState(key: Self.key)
            var client = ClientProtocolState(spoolID: Self.spoolID, hostName: "web-1", key: clientKey)
            let clientHello = try #require(try client.receive(try server.makeHello()).sentFrame)
            let action = server.receive(clientHello)
            guard case .refuseAndClose(let refusal) = action, let body = refusal.refusal else {
                Issue.record("wrong key was not refused: \(action)")
                continue
            }
            #expect(body.code == .unauthorized && body.sequence == 0)
            #expect(server.phase == .closed && server.client == nil)
            #expect(try client.receive(refusal) == .refused(body))
            #expect(client.phase == .closed && !client.canSend)
            // Nothing more is taken on this connection.
            #expect(server.receive(.batch(record(1))).closingRefusal?.code == .protocolViolation)
            #expect(throws: WireError.self) { try server.welcome(resumeSequence: 0) }
        }
    }

    @Test("a proof made for another nonce (a replay) is refused")
    func replayedProof() throws {
        var server = ServerProtocolState(key: Self.key)
        _ = try server.makeHello(nonce: Self.nonce)
        let proof = HandshakeAuth.proof(
            key: Self.key, nonce: [UInt8](repeating: 9, count: 32), spoolID: Self.spoolID, hostName: "web-1")
        let action = server.receive(.clientHello(ClientHello(version: 2, spoolID: Self.spoolID, hostName: "web-1", proof: proof)))
        #expect(action.closingRefusal?.code == .unauthorized)
        #expect(server.phase == .closed)
    }

    @Test("the right proof for the nonce the server sent is accepted")
    func rightProof() throws {
        var server = ServerProtocolState(key: Self.key)
        _ = try server.makeHello(nonce: Self.nonce)
        let proof = HandshakeAuth.proof(key: Self.key, nonce: Self.nonce, spoolID: Self.spoolID, hostName: "web-1")
        let hello = ClientHello(version: 2, spoolID: Self.spoolID, hostName: "web-1", proof: proof)
        #expect(server.receive(.clientHello(hello)) == .authenticated(hello))
        #expect(server.phase == .authenticated && server.client == hello)
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

    @Test("a version-1 client hello is refused as unsupportedVersion naming both versions, and closes")
    func versionOneClient() throws {
        #expect(ProtocolVersion.current == 2 && ProtocolVersion.supported == 2...2)
        var server = ServerProtocolState(key: nil)
        _ = try server.makeHello()
        let action = server.receive(.clientHello(ClientHello(version: 1, spoolID: Self.spoolID, hostName: "old", proof: [])))
        let refusal = try #require(action.closingRefusal)
        #expect(refusal.code == .unsupportedVersion && refusal.sequence == 0)
        #expect(refusal.reason.contains("version 1"), "names the client's version: \(refusal.reason)")
        #expect(refusal.reason.contains("2...2"), "names the server's versions: \(refusal.reason)")
        #expect(server.phase == .closed && server.client == nil)
        #expect(server.receive(.batch(record(1))).closingRefusal?.code == .protocolViolation)

        // A future version is refused the same way.
        var other = ServerProtocolState(key: nil)
        _ = try other.makeHello()
        let future = other.receive(.clientHello(ClientHello(version: 3, spoolID: Self.spoolID, hostName: "new", proof: [])))
        #expect(future.closingRefusal?.code == .unsupportedVersion)
    }

    @Test("a client with no version in common gets a typed error naming both ranges and closes")
    func clientVersionMismatch() throws {
        var old = ClientProtocolState(spoolID: Self.spoolID, hostName: "old", key: nil, versions: 1...1)
        let error = #expect(throws: WireError.self) { try old.receive(Self.serverHello()) }
        #expect(error?.kind == .unsupportedVersion(offered: "2...2", supported: "1...1"))
        #expect(error?.label == "unsupported_version")
        #expect(old.phase == .closed && old.version == nil)

        var current = ClientProtocolState(spoolID: Self.spoolID, hostName: "h", key: nil)
        let newer = #expect(throws: WireError.self) { try current.receive(Self.serverHello(versions: 3...5)) }
        #expect(newer?.kind == .unsupportedVersion(offered: "3...5", supported: "2...2"))
    }

    @Test("a client picks the highest version both sides speak")
    func versionChoice() throws {
        var client = ClientProtocolState(spoolID: Self.spoolID, hostName: "h", key: nil, versions: 1...3)
        let hello = try #require(try client.receive(Self.serverHello(versions: 2...4)).sentFrame)
        guard case .clientHello(let body) = hello else {
            Issue.record("not a client hello: \(hello)")
            return
        }
        #expect(body.version == 3 && client.version == 3 && client.phase == .awaitingWelcome)
        #expect(body.proof.isEmpty)
        // A server speaking 1...3 takes that hello.
        var server = ServerProtocolState(versions: 1...3, key: nil)
        _ = try server.makeHello()
        #expect(server.receive(hello) == .authenticated(body))
    }

    @Test("a session refused after authentication tells the client, which closes")
    func refuseSession() throws {
        var server = ServerProtocolState(key: nil)
        var client = ClientProtocolState(spoolID: Self.spoolID, hostName: "h", key: nil)
        let clientHello = try #require(try client.receive(try server.makeHello()).sentFrame)
        _ = try #require(server.receive(clientHello).peer)
        let refusal = server.refuseSession(.retryLater, reason: "spool full")
        #expect(refusal == .refuse(Refusal(sequence: 0, code: .retryLater, reason: "spool full")))
        #expect(server.phase == .closed)
        #expect(try client.receive(refusal) == .refused(Refusal(sequence: 0, code: .retryLater, reason: "spool full")))
        #expect(client.phase == .closed)
    }

    // MARK: - Server phases

    @Test("any frame before the server's hello is a protocol violation that closes")
    func framesBeforeHello() throws {
        for frame in Self.everyFrame {
            var server = ServerProtocolState(key: nil)
            let action = server.receive(frame)
            let refusal = try #require(action.closingRefusal, "\(frame.kind) before the hello: \(action)")
            #expect(refusal.code == .protocolViolation && refusal.sequence == 0, "\(frame.kind)")
            #expect(server.phase == .closed, "\(frame.kind)")
            #expect(throws: WireError.self, "\(frame.kind)") { try server.makeHello() }
        }
    }

    @Test("any frame after the connection closed is a protocol violation, heartbeat and bye included")
    func framesAfterClose() throws {
        // Every way a server connection closes.
        var closers: [(String, ServerProtocolState)] = []
        var bye = ServerProtocolState(key: nil)
        _ = try bye.makeHello()
        #expect(bye.receive(.bye("later")) == .close("later"))
        closers.append(("bye", bye))
        var (established, _) = try Self.handshake()
        #expect(established.receive(.bye("done")) == .close("done"))
        closers.append(("bye when established", established))
        var unauthorized = ServerProtocolState(key: Self.key)
        _ = try unauthorized.makeHello()
        _ = unauthorized.receive(.clientHello(ClientHello(version: 2, spoolID: Self.spoolID, hostName: "h", proof: [])))
        closers.append(("unauthorized", unauthorized))
        var refused = ServerProtocolState(key: nil)
        _ = try refused.makeHello()
        _ = refused.receive(.clientHello(ClientHello(version: 2, spoolID: Self.spoolID, hostName: "h", proof: [])))
        _ = refused.refuseSession(.retryLater, reason: "busy")
        closers.append(("refused session", refused))
        var (garbled, _) = try Self.handshake()
        #expect(garbled.undecodable(WireError(.truncated)).refusal?.code == .protocolViolation)
        closers.append(("undecodable", garbled))
        var (violated, _) = try Self.handshake()
        _ = violated.receive(.ack(1))
        closers.append(("violation", violated))

        for (how, closed) in closers {
            #expect(closed.phase == .closed, "\(how)")
            for frame in Self.everyFrame {
                var server = closed
                let action = server.receive(frame)
                #expect(action.closingRefusal?.code == .protocolViolation, "\(frame.kind) after \(how): \(action)")
                #expect(server.phase == .closed)
            }
            var server = closed
            #expect(server.stored(record(1)) == nil, "no ack after \(how)")
        }
    }

    @Test("a heartbeat before the client hello is answered, not refused; the handshake goes on")
    func heartbeatBeforeClientHello() throws {
        var server = ServerProtocolState(key: Self.key)
        var client = ClientProtocolState(spoolID: Self.spoolID, hostName: "web-1", key: Self.key)
        let hello = try server.makeHello()
        #expect(server.receive(.heartbeat) == .reply(.heartbeat))
        #expect(server.phase == .helloSent)
        #expect(try client.receive(.heartbeat) == ClientProtocolState.Action.none)  // before the hello, too
        let clientHello = try #require(try client.receive(hello).sentFrame)
        #expect(server.receive(.heartbeat) == .reply(.heartbeat))
        _ = try #require(server.receive(clientHello).peer)
        #expect(server.receive(.heartbeat) == .reply(.heartbeat))  // authenticated, awaiting the resume point
        #expect(server.phase == .authenticated)
        let welcome = try server.welcome(resumeSequence: 0)
        #expect(try client.receive(.heartbeat) == ClientProtocolState.Action.none)  // awaiting the welcome
        _ = try client.receive(welcome)
        #expect(server.receive(.heartbeat) == .reply(.heartbeat))
        #expect(try client.receive(.heartbeat) == ClientProtocolState.Action.none)
        #expect(server.phase == .established && client.phase == .established)
    }

    @Test("a batch before the welcome is a protocol violation, whether authenticated or not")
    func batchBeforeWelcome() throws {
        var helloSent = ServerProtocolState(key: nil)
        _ = try helloSent.makeHello()
        #expect(helloSent.receive(.batch(record(1))).closingRefusal?.code == .protocolViolation)
        #expect(helloSent.phase == .closed)

        var authenticated = ServerProtocolState(key: nil)
        _ = try authenticated.makeHello()
        _ = try #require(authenticated.receive(.clientHello(ClientHello(version: 2, spoolID: Self.spoolID, hostName: "h", proof: []))).peer)
        #expect(authenticated.receive(.batch(record(1))).closingRefusal?.code == .protocolViolation)
        #expect(authenticated.phase == .closed)
        #expect(throws: WireError.self) { try authenticated.welcome(resumeSequence: 0) }
    }

    @Test("the server's own steps are refused out of order: a second hello, a welcome before authentication")
    func serverStepsOutOfOrder() throws {
        var server = ServerProtocolState(key: nil)
        #expect(throws: WireError.self) { try server.welcome(resumeSequence: 0) }
        #expect(throws: WireError.self) { try server.makeHello(nonce: [1, 2, 3]) }  // a short nonce
        #expect(server.phase == .start)
        _ = try server.makeHello()
        #expect(throws: WireError.self) { try server.makeHello() }
        #expect(throws: WireError.self) { try server.welcome(resumeSequence: 0) }
        #expect(server.phase == .helloSent)
    }

    @Test("frames only a server sends, or a second client hello, are protocol violations once established")
    func serverRefusesClientBoundFrames() throws {
        let frames: [Frame] = [
            .clientHello(ClientHello(version: 2, spoolID: Self.spoolID, hostName: "web-1", proof: [])),
            Self.serverHello(), .welcome(Welcome(resumeSequence: 1)), .ack(1),
            .refuse(Refusal(sequence: 1, code: .malformed, reason: "")),
        ]
        for frame in frames {
            var (server, _) = try Self.handshake()
            let refusal = try #require(server.receive(frame).closingRefusal, "\(frame.kind)")
            #expect(refusal.code == .protocolViolation && refusal.sequence == 0, "\(frame.kind)")
            #expect(server.phase == .closed, "\(frame.kind)")
            #expect(server.receive(.batch(record(1))).closingRefusal?.code == .protocolViolation)
        }
    }

    @Test("frames in an illegal order are refused by the client")
    func clientIllegalOrder() throws {
        let hello = Frame.clientHello(ClientHello(version: 2, spoolID: Self.spoolID, hostName: "h", proof: []))
        var (_, client) = try Self.handshake()
        for frame in [hello, .batch(record(1)), .welcome(Welcome(resumeSequence: 1)), Self.serverHello()] {
            let error = #expect(throws: WireError.self, "\(frame.kind)") { try client.receive(frame) }
            #expect(error?.label == "illegal_frame")
        }
        var waiting = ClientProtocolState(spoolID: Self.spoolID, hostName: "h", key: nil)
        for frame in [Frame.ack(1), .welcome(Welcome(resumeSequence: 0)), .batch(record(1)), hello,
                      .refuse(Refusal(sequence: 0, code: .retryLater, reason: ""))] {
            #expect(throws: WireError.self, "\(frame.kind) before the hello") { try waiting.receive(frame) }
        }
        #expect(try waiting.receive(.heartbeat) == ClientProtocolState.Action.none)
        _ = try waiting.receive(Self.serverHello())
        for frame in [Frame.ack(0), Self.serverHello(), .batch(record(1))] {
            #expect(throws: WireError.self, "\(frame.kind) before the welcome") { try waiting.receive(frame) }
        }
    }

    @Test("bye closes either side, and a closed client takes nothing more")
    func bye() throws {
        var (server, client) = try Self.handshake()
        #expect(try client.receive(.bye("restarting")) == .closed("restarting"))
        #expect(client.phase == .closed && !client.canSend)
        #expect(throws: WireError.self) { try client.receive(.heartbeat) }
        #expect(throws: WireError.self) { try client.receive(.ack(0)) }
        #expect(throws: WireError.self) { try client.send(1) }
        #expect(server.receive(.bye("done")) == .close("done"))
        #expect(server.phase == .closed)
    }

    // MARK: - Server: records, acks and duplicates

    @Test("records are taken in order, gaps allowed, and acked cumulatively once durable")
    func storeAndAck() throws {
        var (server, client) = try Self.handshake(resume: 10)
        for sequence: UInt64 in [11, 12, 14] {
            if sequence == 14 { #expect(client.resolved(13) == nil) }  // quarantined locally: never sent
            try client.send(sequence)
            #expect(server.receive(.batch(record(sequence))) == .store(record(sequence)))
        }
        #expect(client.inFlightSequences == [11, 12, 13, 14])
        #expect(server.stored(record(11)) == .ack(11))
        #expect(server.stored(record(12)) == .ack(12))
        #expect(server.stored(record(14)) == .ack(14))
        #expect(server.acknowledged == 14)
        #expect(try client.receive(.ack(11)) == .committed(11))
        #expect(try client.receive(.ack(12)) == .committed(13))  // 13 was resolved, so it settles with 12
        #expect(client.inFlightSequences == [14])
        #expect(try client.receive(.ack(14)) == .committed(14))
        #expect(client.inFlight.isEmpty && client.commitPoint == 14)
    }

    @Test("acks strictly increase: stored() for an equal or lower sequence makes no ack")
    func acksStrictlyIncrease() throws {
        var (server, _) = try Self.handshake(resume: 4)
        for sequence: UInt64 in 5...10 {
            #expect(server.receive(.batch(record(sequence))) == .store(record(sequence)))
        }
        #expect(server.stored(record(4)) == nil)  // the resume point is acked already
        for sequence: UInt64 in 5...10 {
            #expect(server.stored(record(sequence)) == .ack(sequence))
        }
        #expect(server.stored(record(10)) == nil)
        #expect(server.stored(record(5)) == nil)  // no ack 5 after ack 10
        #expect(server.stored(record(9)) == nil)
        #expect(server.acknowledged == 10)
        // A not-yet-established server acks nothing.
        var fresh = ServerProtocolState(key: nil)
        _ = try fresh.makeHello()
        #expect(fresh.stored(record(1)) == nil && fresh.acknowledged == 0)
    }

    @Test("the same record sent twice on one connection is stored once and then a duplicate")
    func sameRecordTwice() throws {
        var (server, _) = try Self.handshake()
        let one = record(1)
        #expect(server.receive(.batch(one)) == .store(one))
        #expect(server.receive(.batch(one)) == .duplicate(one))
        #expect(server.stored(one) == .ack(1))
        #expect(server.receive(.batch(one)) == .duplicate(one))  // after its ack too
        #expect(server.receive(.batch(record(2))) == .store(record(2)))
        #expect(server.receive(.batch(one)) == .duplicate(one))  // below the latest
        #expect(server.receive(.batch(record(2))) == .duplicate(record(2)))
        #expect(server.stored(record(2)) == .ack(2))
        #expect(server.phase == .established)

        // A split record taken whole: every part again is a duplicate.
        let parts = (0..<3).map { record(3, part: $0, of: 3) }
        for part in parts { #expect(server.receive(.batch(part)) == .store(part)) }
        for part in parts { #expect(server.receive(.batch(part)) == .duplicate(part)) }
        // A record at or below the resume point is taken (a replay sends those on purpose; the node stores
        // what it lacks by origin), and once taken on this connection it is a duplicate.
        var (resumed, _) = try Self.handshake(resume: 5)
        #expect(resumed.receive(.batch(record(2))) == .store(record(2)))
        #expect(resumed.receive(.batch(record(2))) == .duplicate(record(2)))
        #expect(resumed.receive(.batch(record(6))) == .store(record(6)))
    }

    @Test("a part of a half-taken record sent twice is never stored twice")
    func halfTakenPartTwice() throws {
        var (server, _) = try Self.handshake()
        let first = record(1, part: 0, of: 3)
        #expect(server.receive(.batch(first)) == .store(first))
        let again = server.receive(.batch(first))
        #expect(again != .store(first))
        // It is either ignored or refused as out of order; never handed to the node a second time.
        #expect(again == .duplicate(first) || again.closingRefusal?.code == .protocolViolation, "\(again)")
    }

    // MARK: - Server: split records

    @Test("part 1 of 3 without part 0 is a protocol violation and closes")
    func partWithoutPartZero() throws {
        var (server, _) = try Self.handshake()
        let action = server.receive(.batch(record(1, part: 1, of: 3)))
        #expect(action.closingRefusal?.code == .protocolViolation, "\(action)")
        #expect(server.phase == .closed)
    }

    @Test("a part skipped in the middle is a protocol violation")
    func skippedPart() throws {
        var (server, _) = try Self.handshake()
        #expect(server.receive(.batch(record(1, part: 0, of: 3))) == .store(record(1, part: 0, of: 3)))
        #expect(server.receive(.batch(record(1, part: 2, of: 3))).closingRefusal?.code == .protocolViolation)
        #expect(server.phase == .closed)
    }

    @Test("a later record while part 0 of 3 of the previous one was taken is a protocol violation")
    func laterRecordMidSplit() throws {
        for later in [record(2), record(2, part: 0, of: 2), record(9, part: 0, of: 3)] {
            var (server, _) = try Self.handshake()
            #expect(server.receive(.batch(record(1, part: 0, of: 3))) == .store(record(1, part: 0, of: 3)))
            let action = server.receive(.batch(later))
            #expect(action.closingRefusal?.code == .protocolViolation, "\(later.sequence) part \(later.part): \(action)")
            #expect(server.phase == .closed)
        }
    }

    @Test("the part count changing in the middle of a record is a protocol violation")
    func partCountChanges() throws {
        for wrong in [record(1, part: 1, of: 4), record(1, part: 1, of: 2)] {
            var (server, _) = try Self.handshake()
            #expect(server.receive(.batch(record(1, part: 0, of: 3))) == .store(record(1, part: 0, of: 3)))
            #expect(server.receive(.batch(wrong)).closingRefusal?.code == .protocolViolation, "part 1 of \(wrong.partCount)")
            #expect(server.phase == .closed)
        }
    }

    @Test("a split record is acked only when its last part is stored")
    func splitAckedAtLastPart() throws {
        var (server, client) = try Self.handshake()
        try client.send(1)
        let parts = (0..<3).map { record(1, part: $0, of: 3) }
        for part in parts { #expect(server.receive(.batch(part)) == .store(part)) }
        #expect(server.stored(parts[0]) == nil)
        #expect(server.stored(parts[1]) == nil)
        #expect(server.acknowledged == 0)
        #expect(server.stored(parts[2]) == .ack(1))
        #expect(try client.receive(.ack(1)) == .committed(1))
        // An older record sent again between the parts of a newer one is a duplicate, not a violation.
        #expect(server.receive(.batch(record(2, part: 0, of: 2))) == .store(record(2, part: 0, of: 2)))
        #expect(server.receive(.batch(record(1))) == .duplicate(record(1)))
        #expect(server.receive(.batch(record(2, part: 1, of: 2))) == .store(record(2, part: 1, of: 2)))
        #expect(server.stored(record(2, part: 0, of: 2)) == nil)
        #expect(server.stored(record(2, part: 1, of: 2)) == .ack(2))
    }

    // MARK: - Server: refusals

    @Test("a record beyond the announced limits is refused too-large, the connection stays open, later records wait for it")
    func tooLarge() throws {
        let limits = WireLimits(maxFrameBytes: 1 << 20, maxUncompressedBytes: 1 << 20, maxEventsPerBatch: 2, maxWindow: 8)
        var (server, client) = try Self.handshake(limits: limits)
        var encoder = BatchEncoder()
        let whole = try encoder.encode(Samples.vectorBatch)  // 3 events > 2
        let small = record(1, events: 2)
        let big = BatchFrame(sequence: 2, origin: Samples.ownOrigin(2, events: 3), batch: whole)
        for sequence: UInt64 in 1...3 { try client.send(sequence) }
        #expect(server.receive(.batch(small)) == .store(small))
        let action = server.receive(.batch(big))
        let refusal = try #require(action.openRefusal, "too-large batch not refused: \(action)")
        #expect(refusal.code == .tooLarge && refusal.sequence == 2)
        #expect(server.phase == .established)
        // Later records are refused retry-later until 2 is sent again; earlier ones are still duplicates.
        let three = server.receive(.batch(record(3)))
        #expect(three.openRefusal?.code == .retryLater && three.openRefusal?.sequence == 3, "\(three)")
        #expect(server.receive(.batch(record(4))).openRefusal?.code == .retryLater)
        #expect(server.receive(.batch(small)) == .duplicate(small))
        #expect(server.receive(.heartbeat) == .reply(.heartbeat))
        #expect(server.stored(small) == .ack(1))  // what was taken before the refusal is still acked
        #expect(server.phase == .established)

        // The client: the ack commits 1; the refusal empties the window, the connection stays open.
        #expect(try client.receive(.ack(1)) == .committed(1))
        #expect(try client.receive(.refuse(refusal)) == .refused(refusal))
        #expect(client.inFlight.isEmpty && client.phase == .established)

        // Record 2 sent again, split to fit: taken part by part, acked at its last part, and 3 goes on.
        let parts = try encoder.encodeParts(Samples.vectorBatch, fitting: try #require(client.serverLimits))
        #expect(parts.count == 2)
        var start: UInt32 = 0
        var frames: [BatchFrame] = []
        for (index, part) in parts.enumerated() {
            let origin = Samples.origin(ownSpool, 2...2, [3], fragmentStart: start)
            start += part.eventCount
            frames.append(BatchFrame(sequence: 2, part: UInt16(index), partCount: 2, origin: origin, batch: part))
        }
        #expect(throws: Never.self) { try client.send(2) }
        for frame in frames { #expect(server.receive(.batch(frame)) == .store(frame)) }
        #expect(throws: Never.self) { try client.send(3) }
        #expect(server.receive(.batch(record(3, events: 1))) == .store(record(3, events: 1)))
        #expect(server.stored(frames[0]) == nil)
        #expect(server.stored(frames[1]) == .ack(2))
        #expect(server.stored(record(3, events: 1)) == .ack(3))
        #expect(try client.receive(.ack(3)) == .committed(3))
        #expect(client.inFlight.isEmpty)
    }

    @Test("each announced limit is enforced, the origin's size included")
    func everyLimit() throws {
        let sealed = fakeSealed(events: 3)
        let own = Samples.ownOrigin(1, events: 3)
        let relayed = Samples.origin(Samples.originID, 1...3, [1, 1, 1])
        let fits = UInt32(BatchFrame.wireLength(compressedBytes: sealed.compressed.count, origin: own))
        let cases: [(String, WireLimits, BatchFrame)] = [
            ("events", WireLimits(maxFrameBytes: 1 << 20, maxUncompressedBytes: 1 << 20, maxEventsPerBatch: 2, maxWindow: 8),
             BatchFrame(sequence: 1, origin: own, batch: sealed)),
            ("uncompressed bytes", WireLimits(maxFrameBytes: 1 << 20, maxUncompressedBytes: 299, maxEventsPerBatch: 100, maxWindow: 8),
             BatchFrame(sequence: 1, origin: own, batch: sealed)),
            ("frame bytes", WireLimits(maxFrameBytes: fits - 1, maxUncompressedBytes: 1 << 20, maxEventsPerBatch: 100, maxWindow: 8),
             BatchFrame(sequence: 1, origin: own, batch: sealed)),
            ("frame bytes with a relayed origin", WireLimits(maxFrameBytes: fits, maxUncompressedBytes: 1 << 20, maxEventsPerBatch: 100, maxWindow: 8),
             BatchFrame(sequence: 1, origin: relayed, batch: sealed)),
        ]
        for (name, limits, frame) in cases {
            var (server, _) = try Self.handshake(limits: limits)
            let action = server.receive(.batch(frame))
            #expect(action.openRefusal?.code == .tooLarge, "\(name): \(action)")
            #expect(server.phase == .established, "\(name)")
        }
        // Exactly at every limit is fine.
        let exact = WireLimits(maxFrameBytes: fits, maxUncompressedBytes: 300, maxEventsPerBatch: 3, maxWindow: 8)
        var (server, _) = try Self.handshake(limits: exact)
        #expect(server.receive(.batch(BatchFrame(sequence: 1, origin: own, batch: sealed)))
            == .store(BatchFrame(sequence: 1, origin: own, batch: sealed)))
    }

    @Test("after a refusal the client resends on, later records are refused retry-later until the refused one comes again",
          arguments: [RefusalCode.retryLater, .internalError, .tooLarge])
    func refusalBlocksLaterRecords(code: RefusalCode) throws {
        var (server, _) = try Self.handshake()
        #expect(server.receive(.batch(record(1))) == .store(record(1)))
        #expect(server.stored(record(1)) == .ack(1))
        #expect(server.receive(.batch(record(2))) == .store(record(2)))
        #expect(server.receive(.batch(record(3))) == .store(record(3)))
        // The node could not store 2; it drops 3, which it had queued behind it.
        #expect(server.refused(record(2), code: code, reason: "spool full")
            == .refuse(Refusal(sequence: 2, code: code, reason: "spool full")))
        #expect(server.phase == .established)
        for sequence: UInt64 in [3, 4] {
            let action = server.receive(.batch(record(sequence)))
            #expect(action.openRefusal?.code == .retryLater && action.openRefusal?.sequence == sequence,
                    "\(sequence) while blocked: \(action)")
        }
        #expect(server.receive(.batch(record(1))) == .duplicate(record(1)))  // below the hole: still taken
        #expect(server.receive(.heartbeat) == .reply(.heartbeat))
        #expect(server.acknowledged == 1)
        // The refused one comes again: it and everything after it are taken.
        #expect(server.receive(.batch(record(2))) == .store(record(2)))
        #expect(server.receive(.batch(record(3))) == .store(record(3)))
        #expect(server.receive(.batch(record(4))) == .store(record(4)))
        #expect(server.stored(record(2)) == .ack(2))
        #expect(server.stored(record(3)) == .ack(3))
        #expect(server.stored(record(4)) == .ack(4))
    }

    @Test("after a malformed refusal the rest of that record is a duplicate and later records go on")
    func malformedSkipsTheRecord() throws {
        var (server, _) = try Self.handshake(resume: 4)
        let parts = (0..<3).map { record(5, part: $0, of: 3) }
        #expect(server.receive(.batch(parts[0])) == .store(parts[0]))
        #expect(server.refused(parts[0], code: .malformed, reason: "crc mismatch")
            == .refuse(Refusal(sequence: 5, code: .malformed, reason: "crc mismatch")))
        #expect(server.phase == .established)
        #expect(server.receive(.batch(parts[1])) == .duplicate(parts[1]))
        #expect(server.receive(.batch(parts[2])) == .duplicate(parts[2]))
        #expect(server.receive(.batch(record(6))) == .store(record(6)))  // not refused retry-later
        #expect(server.stored(record(6)) == .ack(6))  // the ack covers the quarantined record

        // Malformed in the middle of a record: the parts after it are duplicates too.
        let more = (0..<3).map { record(7, part: $0, of: 3) }
        #expect(server.receive(.batch(more[0])) == .store(more[0]))
        #expect(server.receive(.batch(more[1])) == .store(more[1]))
        _ = server.refused(more[1], code: .malformed, reason: "bad body")
        #expect(server.receive(.batch(more[2])) == .duplicate(more[2]))
        // And a whole record.
        #expect(server.receive(.batch(record(8))) == .store(record(8)))
        _ = server.refused(record(8), code: .malformed, reason: "bad body")
        #expect(server.receive(.batch(record(8))) == .duplicate(record(8)))
        #expect(server.receive(.batch(record(9))) == .store(record(9)))
        #expect(server.stored(more[0]) == nil)
        #expect(server.stored(record(9)) == .ack(9))
    }

    @Test("a retry-later refusal of part 1 of 3: part 2, already on the wire, is refused retry-later and the connection stays open")
    func retryLaterMidRecord() throws {
        // Regression: accept(_:) once took any frame of the blocked sequence as "sent again", so part 2 cleared
        // the block and was then refused as "part 2 of 3 without part 0" (protocolViolation, close). A client
        // always has the rest of a split record in flight when the node refuses a part (FerryServerSession does
        // on a full disk). Only part 0 of the blocked record may unblock it.
        var (server, _) = try Self.handshake()
        let parts = (0..<3).map { record(1, part: $0, of: 3) }
        #expect(server.receive(.batch(parts[0])) == .store(parts[0]))
        #expect(server.receive(.batch(parts[1])) == .store(parts[1]))
        _ = server.refused(parts[1], code: .retryLater, reason: "disk full")
        let action = server.receive(.batch(parts[2]))
        #expect(action.openRefusal?.code == .retryLater, "part 2 after its part 1 was refused: \(action)")
        #expect(server.phase == .established)
        // The record sent again from part 0 is taken, and acked at its last part.
        for part in parts { #expect(server.receive(.batch(part)) == .store(part)) }
        for part in parts.dropLast() { #expect(server.stored(part) == nil) }
        #expect(server.stored(parts[2]) == .ack(1))
    }

    @Test("a frame taken after one that was then refused is not acked before the refused one is resent")
    func noAckPastARefusedRecord() throws {
        // Regression: stored(_:) once returned `ack 2` here, acknowledging past the hole at 1 (the client commits
        // 2 and never sends 1 again). The `.store` documentation allows this order (take 1, take 2, refuse 1,
        // store 2); FerryServerSession never produces it only because it refuses before reading the next frame.
        var (server, _) = try Self.handshake()
        #expect(server.receive(.batch(record(1))) == .store(record(1)))
        #expect(server.receive(.batch(record(2))) == .store(record(2)))
        _ = server.refused(record(1), code: .retryLater, reason: "spool full")
        #expect(server.stored(record(2)) == nil, "ack past the hole at 1")
        #expect(server.acknowledged == 0)
        #expect(server.receive(.batch(record(1))) == .store(record(1)))
        #expect(server.receive(.batch(record(2))) == .store(record(2)))
        #expect(server.stored(record(1)) == .ack(1))
        #expect(server.stored(record(2)) == .ack(2))
    }

    @Test("a frame taken before a refusal and made durable after the refused record came again is not acked before it")
    func noAckPastAResentRecord() throws {
        // Regression: a record taken before a refusal of an earlier one is dropped; its `stored` is ignored, and
        // no ack covers the resent record before it is durable.
        var (server, _) = try Self.handshake()
        #expect(server.receive(.batch(record(1))) == .store(record(1)))
        #expect(server.receive(.batch(record(2))) == .store(record(2)))
        _ = server.refused(record(1), code: .retryLater, reason: "spool full")
        #expect(server.receive(.batch(record(1))) == .store(record(1)))  // the resend lifts the block
        #expect(server.stored(record(2)) == nil, "ack 2 before the resent 1 is durable")
        #expect(server.stored(record(1)) == .ack(1))
        #expect(server.receive(.batch(record(2))) == .store(record(2)))
        #expect(server.stored(record(2)) == .ack(2))
    }

    // MARK: - Client

    @Test("the client resumes after the larger of its own acknowledged cursor and the server's resume point",
          arguments: zip([20, 5, 0, 7, 0] as [UInt64], [10, 10, 0, 7, 3] as [UInt64]))
    func resumeAfterTheLarger(acknowledged: UInt64, resume: UInt64) throws {
        let expected = max(acknowledged, resume)
        var client = ClientProtocolState(spoolID: Self.spoolID, hostName: "h", key: nil, acknowledged: acknowledged)
        #expect(client.commitPoint == acknowledged)
        _ = try client.receive(Self.serverHello())
        #expect(try client.receive(.welcome(Welcome(resumeSequence: resume)))
            == .resume(resumeAfter: expected, welcome: Welcome(resumeSequence: resume)))
        #expect(client.commitPoint == expected && client.phase == .established)
        #expect(throws: WireError.self) { try client.send(expected) }
        // An ack at the commit point is not beyond what was sent (it names nothing new).
        #expect(try client.receive(.ack(expected)) == ClientProtocolState.Action.none)
        try client.send(expected + 1)
        #expect(client.inFlightSequences == [expected + 1])
    }

    @Test("a welcome resuming beyond the highest sequence the spool ever sealed is refused and closes")
    func welcomeBeyondHighestSealed() throws {
        var client = ClientProtocolState(spoolID: Self.spoolID, hostName: "h", key: nil, acknowledged: 3, highestSealed: 50)
        _ = try client.receive(Self.serverHello())
        let error = #expect(throws: WireError.self) { try client.receive(.welcome(Welcome(resumeSequence: 51))) }
        #expect(error?.label == "illegal_frame")
        #expect(client.phase == .closed && !client.canSend && client.commitPoint == 3)

        var atTheEdge = ClientProtocolState(spoolID: Self.spoolID, hostName: "h", key: nil, acknowledged: 3, highestSealed: 50)
        _ = try atTheEdge.receive(Self.serverHello())
        #expect(try atTheEdge.receive(.welcome(Welcome(resumeSequence: 50)))
            == .resume(resumeAfter: 50, welcome: Welcome(resumeSequence: 50)))
    }

    @Test("acks move the commit point; an ack beyond anything sent is a protocol violation")
    func acksMoveTheCommitPoint() throws {
        var client = try Self.establishedClient(resume: 10)
        let early = #expect(throws: WireError.self) { try client.receive(.ack(11)) }  // nothing sent yet
        #expect(early?.label == "illegal_frame")
        #expect(try client.receive(.ack(10)) == ClientProtocolState.Action.none)  // the resume point: nothing new
        for sequence: UInt64 in 11...13 { try client.send(sequence) }
        #expect(try client.receive(.ack(12)) == .committed(12))
        #expect(client.commitPoint == 12 && client.inFlightSequences == [13])
        #expect(try client.receive(.ack(12)) == ClientProtocolState.Action.none)
        #expect(try client.receive(.ack(11)) == ClientProtocolState.Action.none)
        #expect(client.commitPoint == 12)  // never backwards
        let beyond = #expect(throws: WireError.self) { try client.receive(.ack(14)) }
        #expect(beyond?.label == "illegal_frame")
        #expect(client.commitPoint == 12 && client.inFlightSequences == [13])
        #expect(try client.receive(.ack(13)) == .committed(13))
        #expect(client.inFlight.isEmpty)
    }

    @Test("a quarantined record settles the commit point only once everything before it is acked")
    func resolvedWaitsForEarlierAcks() throws {
        var client = try Self.establishedClient()
        for sequence: UInt64 in 1...3 { try client.send(sequence) }
        let malformed = Refusal(sequence: 2, code: .malformed, reason: "crc mismatch")
        #expect(try client.receive(.refuse(malformed)) == .refused(malformed))
        #expect(client.phase == .established && client.inFlightSequences == [1, 2, 3])  // the window stays
        #expect(client.resolved(2) == nil)
        #expect(client.commitPoint == 0)
        #expect(try client.receive(.ack(1)) == .committed(2))
        #expect(client.inFlightSequences == [3])

        // A record skipped without being sent (unreadable locally) waits for the ones before it as well.
        #expect(client.resolved(4) == nil)
        #expect(client.inFlightSequences == [3, 4])
        try client.send(5)
        #expect(try client.receive(.ack(3)) == .committed(4))
        #expect(try client.receive(.ack(5)) == .committed(5))
        // With nothing before it pending it settles at once; a record already committed changes nothing.
        #expect(client.resolved(6) == 6)
        #expect(client.resolved(3) == nil && client.commitPoint == 6)
        // Resolving the oldest record in flight settles it and the resolved ones behind it.
        try client.send(7)
        #expect(client.resolved(8) == nil)
        try client.send(9)
        #expect(client.resolved(7) == 8)
        #expect(client.inFlightSequences == [9])
    }

    @Test("the window is the smaller of the client's and the server's, and send refuses when it is full")
    func window() throws {
        for (own, serverWindow, expected) in [(4, 2, 2), (1, 32, 1), (16, 16, 16), (0, 8, 1), (64, 3, 3)] {
            let limits = WireLimits(maxFrameBytes: 1 << 20, maxUncompressedBytes: 1 << 20, maxEventsPerBatch: 100,
                                    maxWindow: UInt32(serverWindow))
            var client = ClientProtocolState(spoolID: Self.spoolID, hostName: "h", key: nil, window: own)
            #expect(!client.canSend)
            _ = try client.receive(Self.serverHello(limits: limits))
            #expect(!client.canSend)  // awaiting the welcome
            _ = try client.receive(.welcome(Welcome(resumeSequence: 0)))
            #expect(client.windowSize == expected, "own \(own), server \(serverWindow)")
            for sequence in 1...expected {
                #expect(client.canSend)
                try client.send(UInt64(sequence))
            }
            #expect(!client.canSend, "own \(own), server \(serverWindow)")
            #expect(throws: WireError.self) { try client.send(UInt64(expected + 1)) }
            #expect(try client.receive(.ack(1)) == .committed(1))
            #expect(client.canSend)
            try client.send(UInt64(expected + 1))
            #expect(!client.canSend)
        }
    }

    @Test("send refuses before the welcome, at or below the commit point, at or below the last sent, and after close")
    func sendRefusals() throws {
        var client = ClientProtocolState(spoolID: Self.spoolID, hostName: "h", key: nil, acknowledged: 5)
        #expect(throws: WireError.self) { try client.send(6) }
        _ = try client.receive(Self.serverHello())
        #expect(throws: WireError.self) { try client.send(6) }
        _ = try client.receive(.welcome(Welcome(resumeSequence: 3)))
        for sequence: UInt64 in [0, 4, 5] {
            #expect(throws: WireError.self, "\(sequence)") { try client.send(sequence) }
        }
        try client.send(6)
        #expect(throws: WireError.self) { try client.send(6) }
        try client.send(8)  // gaps are fine
        #expect(throws: WireError.self) { try client.send(7) }
        #expect(client.inFlightSequences == [6, 8])
        _ = try client.receive(.bye("bye"))
        #expect(throws: WireError.self) { try client.send(9) }
    }

    @Test("the client's refusals: retry-later and too-large empty the window, connection refusals close")
    func clientRefusals() throws {
        for code in [RefusalCode.retryLater, .tooLarge, .internalError] {
            var client = try Self.establishedClient(acknowledged: 2)
            try client.send(3)
            try client.send(4)
            let refusal = Refusal(sequence: 3, code: code, reason: "later")
            #expect(try client.receive(.refuse(refusal)) == .refused(refusal))
            #expect(client.inFlight.isEmpty && client.commitPoint == 2 && client.phase == .established, "\(code)")
        }
        let closing = [
            Refusal(sequence: 0, code: .retryLater, reason: "busy"),
            Refusal(sequence: 0, code: .malformed, reason: "?"),
            Refusal(sequence: 3, code: .protocolViolation, reason: "out of order"),
            Refusal(sequence: 0, code: .unauthorized, reason: "key"),
        ]
        for refusal in closing {
            var client = try Self.establishedClient()
            try client.send(3)
            #expect(try client.receive(.refuse(refusal)) == .refused(refusal))
            #expect(client.phase == .closed && !client.canSend, "\(refusal)")
        }
        var waiting = ClientProtocolState(spoolID: Self.spoolID, hostName: "h", key: nil)
        _ = try waiting.receive(Self.serverHello())
        let unsupported = Refusal(sequence: 0, code: .unsupportedVersion, reason: "versions 2...2")
        #expect(try waiting.receive(.refuse(unsupported)) == .refused(unsupported))
        #expect(waiting.phase == .closed)
    }

    @Test("after a retry-later refusal on a connection that stays open, the client can send the refused record again")
    func clientResendsAfterRetryLater() throws {
        // Regression: the refusal once emptied the window without rewinding what was sent, so the state stayed
        // established with canSend true but send(commitPoint + 1) threw — while the server keeps the connection
        // open for exactly this resend. (FerrySink reconnects on these refusals, so it was not hit.)
        var client = try Self.establishedClient()
        try client.send(1)
        try client.send(2)
        let refusal = Refusal(sequence: 1, code: .retryLater, reason: "spool full")
        #expect(try client.receive(.refuse(refusal)) == .refused(refusal))
        try #require(client.phase == .established && client.canSend)
        #expect(throws: Never.self) { try client.send(1) }
        #expect(client.inFlightSequences == [1])
    }

    @Test("an ack of a record taken before a refusal, arriving after the refusal, still commits")
    func lateAckAfterRefusal() throws {
        // Regression: the refusal rewinds only where the client sends from, not which acks are legal.
        var (server, client) = try Self.handshake()
        try client.send(1)
        try client.send(2)
        #expect(server.receive(.batch(record(1))) == .store(record(1)))
        #expect(server.receive(.batch(record(2))) == .store(record(2)))
        let refusal = server.refused(record(2), code: .retryLater, reason: "disk full")  // at once
        let durable = server.stored(record(1))  // 1 becomes durable afterwards
        #expect(durable == .ack(1))
        let ack = try #require(durable)
        #expect(try client.receive(refusal) == .refused(Refusal(sequence: 2, code: .retryLater, reason: "disk full")))
        #expect(throws: Never.self) { _ = try client.receive(ack) }
        #expect(client.commitPoint == 1)
        // The rest goes on on this connection: 2 again, taken and acked.
        #expect(throws: Never.self) { try client.send(2) }
        #expect(server.receive(.batch(record(2))) == .store(record(2)))
        #expect(server.stored(record(2)) == .ack(2))
        #expect(throws: Never.self) { _ = try client.receive(.ack(2)) }
        #expect(client.commitPoint == 2 && client.inFlight.isEmpty)
    }

    // MARK: - Both sides in a loop

    /// With `resendInPlace` the sender answers most retry-later and too-large refusals by sending again from
    /// its commit point on the same connection, as the server allows, instead of reconnecting as FerrySink does.
    @Test("a client and a server exchange 1,000 records with random acks, duplicates and refusals, never acking past a hole",
          arguments: [1, 2, 3] as [UInt64], [false, true])
    func loop(seed: UInt64, resendInPlace: Bool) throws {
        var loop = try FerryLoop(seed: seed, resendInPlace: resendInPlace)
        try loop.run()
        let stats = loop.stats
        // BUG (with resendInPlace): the client throws on the acks the server sends after a refusal for records
        // it took before it; see lateAckAfterRefusal. The loop then reconnects and goes on.
        #expect(stats.rejectedByClient == 0, "the client rejected \(stats.rejectedByClient) frames, first \(loop.firstRejection ?? "")")
        if resendInPlace { #expect(stats.resentInPlace > 0, "\(stats)") }
        #expect(loop.cursor == FerryLoop.records)
        let unsettled = (1...FerryLoop.records).filter { !loop.settled($0) }
        #expect(unsettled.isEmpty, "records neither stored nor quarantined: \(unsettled.prefix(10))")
        #expect(loop.refusedMalformed == Set(loop.malformedPart.keys))
        #expect(loop.quarantined.isSubset(of: loop.refusedMalformed))
        #expect(loop.ackedThrough == FerryLoop.records || loop.unreadable.contains(FerryLoop.records)
            || loop.refusedMalformed.contains(FerryLoop.records))
        // The run did exercise what it is about.
        #expect(stats.acks > 100 && stats.duplicates > 10 && stats.splits > 100, "\(stats)")
        #expect(stats.retryLater > 0 && stats.tooLarge > 0 && stats.malformed > 0 && stats.reconnects > 0, "\(stats)")
    }
}

// MARK: - The loop

/// One client and one server state machine wired together in memory, with a simulated node behind the server
/// (durability after random delays, malformed and retry-later refusals, taken synchronously as
/// FerryServerSession does) and a sender that skips unreadable records, sometimes forgets to split, repeats
/// records on the same connection, and reconnects after a refusal as FerrySink does.
private struct FerryLoop {
    static let records: UInt64 = 1_000
    static let limits = WireLimits(maxFrameBytes: 1 << 20, maxUncompressedBytes: 1 << 20, maxEventsPerBatch: 2, maxWindow: 6)
    static let key = Samples.vectorKey

    struct PartKey: Hashable {
        var sequence: UInt64
        var part: UInt16
    }

    struct Stats: CustomStringConvertible {
        var acks = 0, duplicates = 0, splits = 0, retryLater = 0, tooLarge = 0, malformed = 0, reconnects = 0, steps = 0
        var resentInPlace = 0, rejectedByClient = 0

        var description: String {
            "acks \(acks), duplicates \(duplicates), split records \(splits), retry-later \(retryLater), too-large \(tooLarge), malformed \(malformed), reconnects \(reconnects), resent in place \(resentInPlace), rejected by the client \(rejectedByClient), steps \(steps)"
        }
    }

    var rng: SeededGenerator
    var stats = Stats()
    let resendInPlace: Bool
    var firstRejection: String?

    // The sender's spool: events per record (index = sequence), records it cannot read (skipped without being
    // sent), records the node finds malformed and at which part.
    let events: [UInt32]
    let unreadable: Set<UInt64>
    let malformedPart: [UInt64: UInt16]
    // The sender, across connections.
    var cursor: UInt64 = 0
    var quarantined: Set<UInt64> = []
    var mustSplit: Set<UInt64> = []
    // The node, across connections.
    var complete: Set<UInt64> = []
    var refusedMalformed: Set<UInt64> = []
    var ackedThrough: UInt64 = 0

    // One connection.
    var server = ServerProtocolState(key: nil)
    var client = ClientProtocolState(spoolID: ownSpool, hostName: "edge-1", key: nil)
    var toServer: [Frame] = []
    var toClient: [Frame] = []
    var pending: [BatchFrame] = []
    var partsStored: [UInt64: Set<UInt16>] = [:]
    var storedKeys: Set<PartKey> = []
    var takenRecords: Set<UInt64> = []
    var malformedHere: Set<UInt64> = []
    var lastStore: PartKey?
    var mustResend: UInt64?
    var welcomeResume: UInt64 = 0
    var nextRecord: UInt64 = 1
    var sentHere: [UInt64: [BatchFrame]] = [:]
    var sentOrder: [UInt64] = []

    init(seed: UInt64, resendInPlace: Bool = false) throws {
        self.resendInPlace = resendInPlace
        var rng = SeededGenerator(seed: seed)
        var events: [UInt32] = [0]
        var unreadable: Set<UInt64> = []
        var malformedPart: [UInt64: UInt16] = [:]
        for sequence in 1...Self.records {
            events.append(UInt32.random(in: 1...5, using: &rng))
            let roll = Int.random(in: 0..<100, using: &rng)
            if roll == 0 {
                unreadable.insert(sequence)
            } else if roll <= 2 {
                malformedPart[sequence] = UInt16.random(in: 0...2, using: &rng)
            }
        }
        self.rng = rng
        self.events = events
        self.unreadable = unreadable
        self.malformedPart = malformedPart
        try connect()
    }

    func settled(_ sequence: UInt64) -> Bool {
        complete.contains(sequence) || refusedMalformed.contains(sequence) || unreadable.contains(sequence)
    }

    mutating func chance(_ probability: Double) -> Bool {
        Double.random(in: 0..<1, using: &rng) < probability
    }

    mutating func run() throws {
        while cursor < Self.records {
            stats.steps += 1
            guard stats.steps < 1_000_000 else {
                Issue.record("no progress: cursor \(cursor) after \(stats.steps) steps")
                return
            }
            let canSend = client.canSend && nextRecord <= Self.records
            if !canSend, toServer.isEmpty, toClient.isEmpty, pending.isEmpty {
                Issue.record("stuck at cursor \(cursor): in flight \(client.inFlight.map(\.sequence)), next \(nextRecord)")
                return
            }
            switch Int.random(in: 0..<100, using: &rng) {
            case 0..<30: try sendNext()
            case 30..<55: try deliverToServer()
            case 55..<80: try deliverToClient()
            case 80..<92: try flush(Int.random(in: 1...4, using: &rng), deliver: true)
            case 92..<95: repeatAcknowledged()
            case 95..<97: toServer.append(.heartbeat)
            case 97..<99: toClient.append(.heartbeat)
            default: if chance(0.2) { try reconnect() }  // the connection drops
            }
        }
    }

    // MARK: Connection

    mutating func connect() throws {
        server = ServerProtocolState(limits: Self.limits, key: Self.key)
        client = ClientProtocolState(
            spoolID: ownSpool, hostName: "edge-1", key: Self.key, acknowledged: cursor, highestSealed: Self.records,
            window: Int.random(in: 1...10, using: &rng))
        toServer = []
        toClient = []
        pending = []
        partsStored = [:]
        storedKeys = []
        takenRecords = []
        malformedHere = []
        lastStore = nil
        mustResend = nil
        sentHere = [:]
        sentOrder = []
        let hello = try server.makeHello()
        if chance(0.3) { #expect(server.receive(.heartbeat) == .reply(.heartbeat)) }
        let clientHello = try #require(try client.receive(hello).sentFrame)
        _ = try #require(server.receive(clientHello).peer)
        welcomeResume = ackedThrough  // the node's resume point: everything up to its last ack
        let welcome = try server.welcome(resumeSequence: welcomeResume)
        guard case .resume(let after, _) = try client.receive(welcome) else {
            Issue.record("no resume")
            throw CancellationError()
        }
        #expect(after == max(cursor, welcomeResume))
        nextRecord = after + 1
        noteCommit()
    }

    /// The connection ends: the node still makes durable what it took (its acks go nowhere), the sender
    /// comes back with its cursor.
    mutating func reconnect() throws {
        stats.reconnects += 1
        try flush(pending.count, deliver: false)
        noteCommit()
        try connect()
    }

    // MARK: Sender

    mutating func sendNext() throws {
        nextRecord = max(nextRecord, client.commitPoint + 1)  // an ack may overtake a resend from the commit point
        guard client.canSend, nextRecord <= Self.records else { return }
        let sequence = nextRecord
        nextRecord += 1
        if unreadable.contains(sequence) || quarantined.contains(sequence) {
            client.resolved(sequence)
            noteCommit()
            return
        }
        try client.send(sequence)
        let count = events[Int(sequence)]
        let forgetful = count > 2 && !mustSplit.contains(sequence) && chance(0.05)
        var frames: [BatchFrame] = []
        if count <= 2 || forgetful {
            frames = [BatchFrame(sequence: sequence, origin: Samples.ownOrigin(sequence, events: count), batch: fakeSealed(events: count))]
        } else {
            stats.splits += 1
            let partCount = (count + 1) / 2
            for part in 0..<partCount {
                let origin = Samples.origin(ownSpool, sequence...sequence, [count], fragmentStart: 2 * part)
                frames.append(BatchFrame(
                    sequence: sequence, part: UInt16(part), partCount: UInt16(partCount), origin: origin,
                    batch: fakeSealed(events: min(2, count - 2 * part))))
            }
        }
        toServer += frames.map(Frame.batch)
        if chance(0.03) { toServer += frames.map(Frame.batch) }  // the same record twice in a row
        sentHere[sequence] = frames
        sentOrder.append(sequence)
    }

    /// Sends again a record this connection already committed: the server must call it a duplicate.
    mutating func repeatAcknowledged() {
        guard let sequence = sentOrder.randomElement(using: &rng), sequence <= client.commitPoint,
            let frames = sentHere[sequence]
        else { return }
        toServer += frames.map(Frame.batch)
    }

    mutating func deliverToClient() throws {
        guard !toClient.isEmpty else { return }
        let frame = toClient.removeFirst()
        let action: ClientProtocolState.Action
        do {
            action = try client.receive(frame)
        } catch {
            stats.rejectedByClient += 1
            if firstRejection == nil { firstRejection = "\(frame): \(error)" }
            try reconnect()
            return
        }
        switch action {
        case .none, .committed:
            break
        case .refused(let refusal):
            switch refusal.code {
            case .malformed:
                quarantined.insert(refusal.sequence)
                client.resolved(refusal.sequence)
            case .tooLarge, .retryLater:
                if refusal.code == .tooLarge { mustSplit.insert(refusal.sequence) }
                if resendInPlace, chance(0.8) {
                    // The window was emptied: send again from the commit point on this connection.
                    stats.resentInPlace += 1
                    nextRecord = client.commitPoint + 1
                } else {
                    try reconnect()
                    return
                }
            default:
                Issue.record("unexpected refusal \(refusal)")
                try reconnect()
                return
            }
        default:
            Issue.record("unexpected client action \(action)")
        }
        noteCommit()
    }

    /// Checks that the sender's commit point covers only records stored or quarantined.
    mutating func noteCommit() {
        let point = client.commitPoint
        guard point > cursor else {
            #expect(point == cursor, "the commit point went back from \(cursor) to \(point)")
            return
        }
        if let hole = (cursor + 1...point).first(where: { !settled($0) }) {
            Issue.record("the sender committed \(point) past the hole at \(hole)")
        }
        cursor = point
    }

    // MARK: Server and node

    mutating func deliverToServer() throws {
        guard !toServer.isEmpty else { return }
        let frame = toServer.removeFirst()
        let action = server.receive(frame)
        switch action {
        case .reply(let reply):
            if let refusal = reply.refusal {
                switch refusal.code {
                case .tooLarge:
                    stats.tooLarge += 1
                    forgetTaken(refusal.sequence)
                case .retryLater:
                    break
                default:
                    Issue.record("unexpected refusal \(refusal)")
                }
            } else {
                #expect(reply == .heartbeat)
            }
            toClient.append(reply)
        case .store(let batch):
            try take(batch)
        case .duplicate(let batch):
            stats.duplicates += 1
            let known = batch.sequence <= welcomeResume || takenRecords.contains(batch.sequence)
                || malformedHere.contains(batch.sequence)
            #expect(known, "record \(batch.sequence) part \(batch.part) called a duplicate but never taken")
        case .refuseAndClose(let refusal):
            Issue.record("the server closed on a well-behaved client: \(refusal) after \(frame.kind)")
            try reconnect()
        default:
            Issue.record("unexpected server action \(action)")
        }
    }

    mutating func forgetTaken(_ sequence: UInt64) {
        storedKeys = storedKeys.filter { $0.sequence != sequence }
        takenRecords.remove(sequence)
        mustResend = sequence
        lastStore = nil
    }

    /// The node takes a frame: malformed and retry-later are decided at once, as FerryServerSession does,
    /// anything else waits its turn to become durable.
    mutating func take(_ batch: BatchFrame) throws {
        let key = PartKey(sequence: batch.sequence, part: batch.part)
        #expect(!storedKeys.contains(key), "record \(batch.sequence) part \(batch.part) stored twice on one connection")
        if let resend = mustResend {
            #expect(batch.sequence == resend && batch.part == 0, "after a refusal of \(resend) the server took \(key)")
            mustResend = nil
        } else if let last = lastStore {
            let inOrder = (batch.sequence > last.sequence && batch.part == 0)
                || (batch.sequence == last.sequence && batch.part == last.part + 1)
            #expect(inOrder, "the server took \(key) after \(last)")
        }
        lastStore = key
        storedKeys.insert(key)
        if batch.isLastPart { takenRecords.insert(batch.sequence) }

        if let bad = malformedPart[batch.sequence], min(bad, batch.partCount - 1) == batch.part {
            stats.malformed += 1
            refusedMalformed.insert(batch.sequence)
            malformedHere.insert(batch.sequence)
            toClient.append(server.refused(batch, code: .malformed, reason: "crc mismatch"))
        } else if batch.isLastPart, chance(0.02) {
            // Retry-later only on a last part: see retryLaterMidRecord for what happens to the parts after it.
            stats.retryLater += 1
            forgetTaken(batch.sequence)
            toClient.append(server.refused(batch, code: .retryLater, reason: "spool full"))
        } else {
            pending.append(batch)
        }
    }

    /// The node makes up to `count` taken frames durable, in order, and sends the acks the server makes.
    mutating func flush(_ count: Int, deliver: Bool) throws {
        for _ in 0..<min(count, pending.count) {
            let batch = pending.removeFirst()
            partsStored[batch.sequence, default: []].insert(batch.part)
            if batch.isLastPart {
                if Set(0..<batch.partCount).isSubset(of: partsStored[batch.sequence] ?? []) {
                    complete.insert(batch.sequence)
                } else {
                    Issue.record("the last part of \(batch.sequence) was stored without the parts before it")
                }
            }
            guard let ack = server.stored(batch) else { continue }
            guard case .ack(let sequence) = ack else {
                Issue.record("stored() made \(ack)")
                continue
            }
            stats.acks += 1
            if sequence <= ackedThrough {
                Issue.record("ack \(sequence) after ack \(ackedThrough)")
            } else {
                if let hole = (ackedThrough + 1...sequence).first(where: { !settled($0) }) {
                    Issue.record("ack \(sequence) past the hole at \(hole)")
                }
                ackedThrough = sequence
            }
            if deliver { toClient.append(ack) }
        }
    }
}
