/// The server side of the ferry protocol as a pure value: which frame is legal in which state, and what
/// the server does about each. No sockets, no clocks; the NIO handler feeds it frames and does the I/O.
///
/// Phases: `start` → (``makeHello(nonce:)``) `helloSent` → (valid client hello) `authenticated` →
/// (``welcome(resumeSequence:resumePart:)``) `established` → `closed`. A batch before the welcome is a
/// protocol violation; a wrong proof or version is refused and closes the connection.
///
/// Sequencing after the welcome: batch sequences must increase (gaps are fine: a sender may have
/// quarantined a record); the parts of a split batch come in order. A batch at or below what was already
/// accepted is a duplicate and is not stored again. When the node refuses a batch with retry-later,
/// too-large or internal-error, every later batch is refused with retry-later until that sequence is resent,
/// so nothing is ever stored out of order.
public struct ServerProtocolState: Sendable {
    /// Where the connection is.
    public enum Phase: String, Sendable, Hashable {
        case start, helloSent = "hello sent", authenticated = "authenticated, awaiting resume point"
        case established, closed
    }

    /// What the server does after a frame.
    public enum Action: Sendable, Hashable {
        /// Nothing (a heartbeat, or a duplicate part already being stored).
        case none
        /// The client proved itself: look up the resume point of `hello.spoolID`, then call
        /// ``ServerProtocolState/welcome(resumeSequence:resumePart:)`` and send its frame.
        case authenticated(ClientHello)
        /// Send this frame (a refusal or a repeated ack); the connection stays open.
        case reply(Frame)
        /// Send this refusal, then close the connection.
        case refuseAndClose(Frame)
        /// Validate and store this batch frame, in order, then call ``ServerProtocolState/stored(_:)`` or
        /// ``ServerProtocolState/refused(_:code:reason:)``.
        case store(BatchFrame)
        /// The client said bye; close the connection.
        case close(String)
    }

    /// The limits announced in the hello and enforced on every batch.
    public let limits: WireLimits
    /// The protocol versions this server speaks.
    public let versions: ClosedRange<UInt16>
    private let key: [UInt8]?

    /// Where the connection is.
    public private(set) var phase: Phase = .start
    /// The client's hello once it has been authenticated.
    public private(set) var client: ClientHello?
    /// The highest sequence acknowledged on this connection (starting at the resume point).
    public private(set) var acknowledged: UInt64 = 0

    private var nonce: [UInt8] = []
    /// Every batch at or below this was accepted (handed to the node to store) or was resumed past.
    private var acceptedThrough: UInt64 = 0
    /// A split batch whose first parts were accepted: the next part expected.
    private var partial: (sequence: UInt64, nextPart: UInt16)?
    /// Set when a batch was refused for a reason the client resends on; later batches wait for it.
    private var blockedAt: UInt64?

    /// Creates the state of one server connection; `key` nil means no authentication.
    public init(limits: WireLimits = .default, versions: ClosedRange<UInt16> = ProtocolVersion.supported, key: [UInt8]?) {
        self.limits = limits
        self.versions = versions
        self.key = key
    }

    /// Makes the opening hello with `nonce` (32 fresh random bytes; generated from the system RNG when nil).
    public mutating func makeHello(nonce: [UInt8]? = nil) throws(WireError) -> Frame {
        guard phase == .start else { throw illegal("server-hello (sending)") }
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

    /// Handles a frame from the client.
    ///
    /// - Throws: ``WireError/Kind/illegalFrame`` when the frame is not allowed now; close the connection.
    public mutating func receive(_ frame: Frame) throws(WireError) -> Action {
        switch (phase, frame) {
        case (.closed, _):
            throw illegal(frame.kind.description)
        case (_, .heartbeat) where phase != .start:
            return .none
        case (_, .bye(let reason)):
            phase = .closed
            return .close(reason)
        case (.helloSent, .clientHello(let hello)):
            return authenticate(hello)
        case (.established, .batch(let batch)):
            return accept(batch)
        default:
            throw illegal(frame.kind.description)
        }
    }

    private mutating func authenticate(_ hello: ClientHello) -> Action {
        guard versions.contains(hello.version) else {
            phase = .closed
            return .refuseAndClose(.refuse(Refusal(
                sequence: 0, code: .unsupportedVersion,
                reason: "protocol version \(hello.version) is not in \(versions.lowerBound)...\(versions.upperBound)")))
        }
        if let key {
            guard HandshakeAuth.verify(
                proof: hello.proof, key: key, nonce: nonce, spoolID: hello.spoolID, hostName: hello.hostName)
            else {
                phase = .closed
                let reason = hello.proof.isEmpty
                    ? "this receiver requires a shared key and none was presented"
                    : "the shared key proof is wrong; check that both sides use the same key"
                return .refuseAndClose(.refuse(Refusal(sequence: 0, code: .unauthorized, reason: reason)))
            }
        }
        client = hello
        phase = .authenticated
        return .authenticated(hello)
    }

    /// Makes the welcome once the node knows the resume point of the client's spool id: the highest
    /// sequence durably committed, and how many parts of the next batch are already stored.
    public mutating func welcome(resumeSequence: UInt64, resumePart: UInt16 = 0) throws(WireError) -> Frame {
        guard phase == .authenticated else { throw illegal("welcome (sending)") }
        phase = .established
        acknowledged = resumeSequence
        acceptedThrough = resumeSequence
        if resumePart > 0, resumeSequence < .max {
            partial = (resumeSequence + 1, resumePart)
        }
        return .welcome(Welcome(resumeSequence: resumeSequence, resumePart: resumePart))
    }

    private mutating func accept(_ frame: BatchFrame) -> Action {
        if let blockedAt {
            if frame.sequence > blockedAt {
                return .reply(refusal(frame, .retryLater, "waiting for batch \(blockedAt) to be resent first"))
            }
            if frame.sequence == blockedAt { self.blockedAt = nil }
        }
        if let partial, frame.sequence == partial.sequence {
            if frame.part < partial.nextPart { return .none }  // already accepted: a resend after a refusal
            guard frame.part == partial.nextPart else {
                return .reply(refusal(frame, .malformed, "expected part \(partial.nextPart), got part \(frame.part)"))
            }
        } else if frame.sequence <= acceptedThrough {
            return frame.sequence <= acknowledged ? .reply(.ack(acknowledged)) : .none
        } else if frame.part != 0 {
            return .reply(refusal(frame, .malformed, "part \(frame.part) of a batch whose first parts were not sent"))
        }
        do {
            try limits.check(frame.batch)
        } catch {
            blockedAt = frame.sequence
            return .reply(refusal(frame, .tooLarge, error.description))
        }
        if frame.isLastPart {
            partial = nil
            acceptedThrough = frame.sequence
        } else {
            partial = (frame.sequence, frame.part + 1)
            acceptedThrough = frame.sequence - 1
        }
        return .store(frame)
    }

    /// Records that `frame` is durably stored; returns the ack to send when it was the batch's last part.
    public mutating func stored(_ frame: BatchFrame) -> Frame? {
        guard phase == .established, frame.isLastPart, frame.sequence > acknowledged else { return nil }
        acknowledged = frame.sequence
        return .ack(frame.sequence)
    }

    /// Records that the node could not take `frame` (it failed validation, or storage is full or broken)
    /// and returns the refusal to send. For every code but malformed the client resends `frame`, so later
    /// batches are refused until it does; the node drops any later batches it had queued.
    public mutating func refused(_ frame: BatchFrame, code: RefusalCode, reason: String) -> Frame {
        if code != .malformed, phase == .established {
            blockedAt = frame.sequence
            acceptedThrough = min(acceptedThrough, max(frame.sequence, 1) - 1)
            partial = frame.part > 0 ? (frame.sequence, frame.part) : nil
        }
        return refusal(frame, code, reason)
    }

    private func refusal(_ frame: BatchFrame, _ code: RefusalCode, _ reason: String) -> Frame {
        .refuse(Refusal(sequence: frame.sequence, code: code, reason: reason))
    }

    private func illegal(_ frame: String) -> WireError {
        WireError(.illegalFrame(state: "server \(phase.rawValue)", frame: frame))
    }
}
