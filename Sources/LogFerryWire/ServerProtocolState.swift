/// The server side of the ferry protocol as a pure value: which frame is legal in which state, and what
/// the server does about each. No sockets, no clocks: the listener's session feeds it every frame and
/// carries out the action it returns, so this is the one implementation of the server's protocol.
///
/// Phases: `start` → (``makeHello(nonce:)``) `helloSent` → (valid client hello) `authenticated` →
/// (``welcome(resumeSequence:)``) `established` → `closed`.
///
/// Hop rules after the welcome (Docs/PROTOCOL.md §3): record sequences increase; the parts of a split record
/// come in order, part 0 first, with one part count; a record at or below one already taken on this
/// connection is a duplicate and ignored (its ack covers it). When a record is refused with retry-later,
/// too-large or internal-error, every later record is refused with retry-later until that one is sent again,
/// so nothing is acknowledged past a hole. Acks are cumulative and strictly increasing. Deduplication by
/// *origin* is the node's job (it spans connections); this value handles one connection.
public struct ServerProtocolState: Sendable {
    /// Where the connection is.
    public enum Phase: String, Sendable, Hashable {
        case start, helloSent = "hello sent", authenticated = "authenticated, awaiting resume point"
        case established, closed
    }

    /// What the server does after a frame.
    public enum Action: Sendable, Hashable {
        /// Nothing (a frame that needs no answer).
        case none
        /// The client proved itself: look up the resume point of `hello.spoolID`, then call
        /// ``ServerProtocolState/welcome(resumeSequence:)`` and send its frame.
        case authenticated(ClientHello)
        /// Send this frame (a refusal or a heartbeat); the connection stays open.
        case reply(Frame)
        /// Send this refusal, then close the connection.
        case refuseAndClose(Frame)
        /// Check, deduplicate by origin and store this batch frame, in arrival order, then call
        /// ``ServerProtocolState/stored(_:)`` once it is durable, or ``ServerProtocolState/refused(_:code:reason:)``.
        case store(BatchFrame)
        /// A record already taken on this connection, sent again: nothing to store, the coming ack covers it.
        case duplicate(BatchFrame)
        /// The client said bye; close the connection.
        case close(String)
    }

    /// The limits announced in the hello and enforced on every batch.
    public let limits: WireLimits
    /// The protocol versions this server speaks.
    public let versions: ClosedRange<UInt16>
    private let keys: HandshakeKeys

    /// Where the connection is.
    public private(set) var phase: Phase = .start
    /// The client's hello once it has been authenticated.
    public private(set) var client: ClientHello?
    /// The highest record sequence acknowledged on this connection.
    public private(set) var acknowledged: UInt64 = 0

    private var nonce: [UInt8] = []
    /// Every record at or below this was taken (handed to the node), refused as malformed, or resumed past.
    private var acceptedThrough: UInt64 = 0
    /// A split record whose first parts were taken: its sequence, the next part expected, the part count.
    private var partial: (sequence: UInt64, nextPart: UInt16, partCount: UInt16)?
    /// Set when a record was refused for a reason the client resends on; later records wait for it.
    private var blockedAt: UInt64?
    /// Records handed to the node to store and not yet stored, in arrival order.
    private var outstanding: [UInt64] = []
    /// Records refused (not malformed) and not yet stored again: no ack may cover them.
    private var holes: Set<UInt64> = []
    /// The highest record stored.
    private var highestStored: UInt64 = 0

    /// Creates the state of one server connection; `key` nil means no authentication.
    public init(limits: WireLimits = .default, versions: ClosedRange<UInt16> = ProtocolVersion.supported, key: [UInt8]?) {
        self.init(limits: limits, versions: versions, keys: key.map { .shared($0) } ?? .none)
    }

    /// Creates the state of one server connection checking proofs against `keys`.
    public init(limits: WireLimits = .default, versions: ClosedRange<UInt16> = ProtocolVersion.supported, keys: HandshakeKeys) {
        self.limits = limits
        self.versions = versions
        self.keys = keys
    }

    /// Makes the opening hello with `nonce` (32 fresh random bytes; generated from the system RNG when nil).
    public mutating func makeHello(nonce: [UInt8]? = nil) throws(WireError) -> Frame {
        guard phase == .start else { throw WireError(.illegalFrame(state: "server \(phase.rawValue)", frame: "server-hello (sending)")) }
        var rng = SystemRandomNumberGenerator()
        let nonce = nonce ?? (0..<ServerHello.nonceSize).map { _ in UInt8.random(in: .min ... .max, using: &rng) }
        guard nonce.count == ServerHello.nonceSize else {
            throw WireError(.malformed("nonce must be \(ServerHello.nonceSize) bytes"))
        }
        self.nonce = nonce
        phase = .helloSent
        return .serverHello(ServerHello(
            versionMin: versions.lowerBound, versionMax: versions.upperBound, nonce: nonce, limits: limits))
    }

    /// Handles a frame from the client. A frame not allowed now is refused with
    /// ``RefusalCode/protocolViolation`` and the connection closes.
    public mutating func receive(_ frame: Frame) -> Action {
        switch (phase, frame) {
        case (.closed, _), (.start, _):
            return violation("a \(frame.kind) frame is not allowed while the server is \(phase.rawValue)")
        case (_, .heartbeat):
            // Legal in every open state once the hello is out; answered so the client sees a live server.
            return .reply(.heartbeat)
        case (_, .bye(let reason)):
            phase = .closed
            return .close(reason)
        case (.helloSent, .clientHello(let hello)):
            return authenticate(hello)
        case (.established, .batch(let batch)):
            return accept(batch)
        default:
            return violation("a \(frame.kind) frame is not allowed while the server is \(phase.rawValue)")
        }
    }

    /// The refusal for an input that could not even be decoded as a frame (closes the connection).
    public mutating func undecodable(_ error: WireError) -> Frame {
        phase = .closed
        return .refuse(Refusal(sequence: 0, code: .protocolViolation, reason: "\(error); closing"))
    }

    private mutating func authenticate(_ hello: ClientHello) -> Action {
        guard versions.contains(hello.version) else {
            phase = .closed
            return .refuseAndClose(.refuse(Refusal(
                sequence: 0, code: .unsupportedVersion,
                reason: "protocol version \(hello.version) is not supported: this node speaks versions \(versions.lowerBound)...\(versions.upperBound); upgrade the older side")))
        }
        if keys.required {
            guard let key = keys.key(for: hello.hostName) else {
                phase = .closed
                return .refuseAndClose(.refuse(Refusal(sequence: 0, code: .unauthorized,
                    reason: "no key for host '\(hello.hostName)' in this receiver's --key-dir; add KEY-DIR/\(hello.hostName).key")))
            }
            guard HandshakeAuth.verify(
                proof: hello.proof, key: key, nonce: nonce, spoolID: hello.spoolID, hostName: hello.hostName)
            else {
                phase = .closed
                let reason = hello.proof.isEmpty
                    ? "this receiver requires a key and none was presented; set --key-file"
                    : keys.provesHostName
                        ? "the key proof for host '\(hello.hostName)' is wrong; check the agent's --key-file against KEY-DIR/\(hello.hostName).key"
                        : "the shared key proof is wrong; check that both sides use the same --key-file"
                return .refuseAndClose(.refuse(Refusal(sequence: 0, code: .unauthorized, reason: reason)))
            }
        }
        client = hello
        phase = .authenticated
        return .authenticated(hello)
    }

    /// Makes the welcome once the node knows the resume point of the client's spool id: the highest record
    /// sequence up to which it holds everything that client sent (0: none).
    public mutating func welcome(resumeSequence: UInt64) throws(WireError) -> Frame {
        guard phase == .authenticated else {
            throw WireError(.illegalFrame(state: "server \(phase.rawValue)", frame: "welcome (sending)"))
        }
        phase = .established
        // The resume point is advice to the client, not a filter: a replay sends records at or below it on
        // purpose, and the node stores what it lacks of them by origin. So counting starts from nothing.
        return .welcome(Welcome(resumeSequence: resumeSequence))
    }

    /// Refuses the handshake with `code` (e.g. retry-later when the node cannot take a session now) and closes.
    public mutating func refuseSession(_ code: RefusalCode, reason: String) -> Frame {
        phase = .closed
        return .refuse(Refusal(sequence: 0, code: code, reason: reason))
    }

    private mutating func accept(_ frame: BatchFrame) -> Action {
        if let partial {
            guard frame.sequence == partial.sequence else {
                if frame.sequence <= acceptedThrough { return .duplicate(frame) }
                return violation("batch \(frame.sequence) sent before parts \(partial.nextPart)..<\(partial.partCount) of batch \(partial.sequence)")
            }
            guard frame.part == partial.nextPart, frame.partCount == partial.partCount else {
                return violation("expected part \(partial.nextPart) of \(partial.partCount) of batch \(frame.sequence), got part \(frame.part) of \(frame.partCount)")
            }
        } else {
            if frame.sequence <= acceptedThrough { return .duplicate(frame) }
            if let blockedAt {
                if frame.sequence > blockedAt || (frame.sequence == blockedAt && frame.part != 0) {
                    // Later records, or later parts of the refused one already on the wire: the client sends
                    // the refused record again from part 0.
                    return .reply(refusal(frame, .retryLater, "waiting for batch \(blockedAt) to be resent first"))
                }
                self.blockedAt = nil
            }
            guard frame.part == 0 else {
                return violation("part \(frame.part) of \(frame.partCount) of batch \(frame.sequence) without part 0")
            }
        }
        do {
            try limits.check(frame.batch, origin: frame.origin)
        } catch {
            return .reply(refused(frame, code: .tooLarge, reason: "\(error.description); split it"))
        }
        if frame.isLastPart {
            partial = nil
            acceptedThrough = frame.sequence
            outstanding.append(frame.sequence)
        } else {
            partial = (frame.sequence, frame.part + 1, frame.partCount)
        }
        return .store(frame)
    }

    /// Records that `frame` is durably stored (or was already held); returns the ack to send when it was the
    /// last part of its record. The ack never covers a record still being stored or refused. A record taken
    /// after one that was then refused is dropped (the node must not store it; the client sends it again):
    /// its `stored` is ignored.
    public mutating func stored(_ frame: BatchFrame) -> Frame? {
        // A record taken before a refusal of an earlier one was dropped by the node and will come again.
        guard phase == .established, frame.isLastPart, let index = outstanding.firstIndex(of: frame.sequence) else {
            return nil
        }
        outstanding.remove(at: index)
        holes.remove(frame.sequence)
        highestStored = max(highestStored, frame.sequence)
        // A cumulative ack covers everything below it: never past a record still being stored or refused.
        var point = highestStored
        if let lowest = (outstanding + holes).min() { point = min(point, lowest - 1) }
        guard point > acknowledged else { return nil }
        acknowledged = point
        return .ack(point)
    }

    /// Records that the node could not take `frame` and returns the refusal to send. After `malformed` the
    /// client quarantines the record and moves on, so its remaining parts are ignored; after any other code
    /// the client sends the record again, so later records are refused until it does.
    public mutating func refused(_ frame: BatchFrame, code: RefusalCode, reason: String) -> Frame {
        if phase == .established {
            partial = nil
            if code == .malformed {
                outstanding.removeAll { $0 == frame.sequence }
                acceptedThrough = max(acceptedThrough, frame.sequence)
            } else {
                // The node drops what it took after the refused record; the client sends all of it again.
                outstanding.removeAll { $0 >= frame.sequence }
                blockedAt = frame.sequence
                holes.insert(frame.sequence)
                acceptedThrough = min(acceptedThrough, frame.sequence - 1)
            }
        }
        return refusal(frame, code, reason)
    }

    private func refusal(_ frame: BatchFrame, _ code: RefusalCode, _ reason: String) -> Frame {
        .refuse(Refusal(sequence: frame.sequence, code: code, reason: reason))
    }

    private mutating func violation(_ reason: String) -> Action {
        phase = .closed
        return .refuseAndClose(.refuse(Refusal(sequence: 0, code: .protocolViolation, reason: reason)))
    }
}
