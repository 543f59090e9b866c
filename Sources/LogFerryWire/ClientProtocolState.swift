/// The client side of the ferry protocol as a pure value: which frame is legal in which state, the
/// version choice, the auth proof, the resume point and the in-flight window. No sockets, no clocks.
///
/// Phases: `awaitingHello` → (server hello; the client hello goes out) `awaitingWelcome` → (welcome)
/// `established` → `closed`. Batches may be sent only when established and while fewer than the server's
/// `maxWindow` are unacknowledged.
public struct ClientProtocolState: Sendable {
    /// Where the connection is.
    public enum Phase: String, Sendable, Hashable {
        case awaitingHello = "awaiting hello", awaitingWelcome = "awaiting welcome", established, closed
    }

    /// What the client does after a frame.
    public enum Action: Sendable, Hashable {
        /// Nothing (a heartbeat).
        case none
        /// Send this frame (the client hello).
        case send(Frame)
        /// The handshake is done: skip every batch up to `resumeSequence`, and the first `resumePart` parts
        /// of the batch after it, then start sending.
        case resume(Welcome)
        /// Every batch up to and including this sequence is durable upstream: commit the cursor.
        case acknowledged(UInt64)
        /// A refusal; see ``RefusalCode`` for what to do. After retry-later, too-large or internal-error
        /// the window is emptied: back off, then resend from the oldest unacknowledged batch.
        case refused(Refusal)
        /// The server is going away (bye); reconnect, with backoff, possibly elsewhere.
        case closed(String)
    }

    /// The versions this client speaks.
    public let versions: ClosedRange<UInt16>
    /// This client's spool id (16 bytes).
    public let spoolID: [UInt8]
    /// This client's host name.
    public let hostName: String
    private let key: [UInt8]?

    /// Where the connection is.
    public private(set) var phase: Phase = .awaitingHello
    /// The version chosen from the server's hello.
    public private(set) var version: UInt16?
    /// The limits the server announced; batches must fit them (see ``BatchEncoder/encodeParts(_:fitting:)``).
    public private(set) var serverLimits: WireLimits?
    /// The highest sequence the server has acknowledged (starting at the resume point).
    public private(set) var acknowledged: UInt64 = 0
    /// The batch frames sent and not yet acknowledged, oldest first.
    public private(set) var inFlight: [(sequence: UInt64, part: UInt16)] = []
    private var highestSent: UInt64 = 0

    /// Creates the state of one client connection; `key` nil means no shared key is configured.
    public init(spoolID: [UInt8], hostName: String, key: [UInt8]?, versions: ClosedRange<UInt16> = ProtocolVersion.supported) {
        self.spoolID = spoolID
        self.hostName = hostName
        self.key = key
        self.versions = versions
    }

    /// Whether a batch frame may be sent now (established and the window has room).
    public var canSend: Bool {
        guard phase == .established, let serverLimits else { return false }
        return inFlight.count < Int(serverLimits.maxWindow)
    }

    /// Handles a frame from the server.
    ///
    /// - Throws: ``WireError/Kind/illegalFrame`` when the frame is not allowed now, or
    ///   ``WireError/Kind/unsupportedVersion`` when the server speaks no version we do; close the connection.
    public mutating func receive(_ frame: Frame) throws(WireError) -> Action {
        switch (phase, frame) {
        case (.closed, _):
            throw illegal(frame.kind.description)
        case (_, .heartbeat):
            return .none
        case (_, .bye(let reason)):
            phase = .closed
            return .closed(reason)
        case (.awaitingHello, .serverHello(let hello)):
            let low = max(versions.lowerBound, hello.versionMin)
            let high = min(versions.upperBound, hello.versionMax)
            guard low <= high else {
                phase = .closed
                throw WireError(.unsupportedVersion(
                    offered: "\(hello.versionMin)...\(hello.versionMax)",
                    supported: "\(versions.lowerBound)...\(versions.upperBound)"))
            }
            version = high
            serverLimits = hello.limits
            phase = .awaitingWelcome
            let proof = key.map {
                HandshakeAuth.proof(key: $0, nonce: hello.nonce, spoolID: spoolID, hostName: hostName)
            } ?? []
            return .send(.clientHello(ClientHello(version: high, spoolID: spoolID, hostName: hostName, proof: proof)))
        case (.awaitingWelcome, .welcome(let welcome)):
            phase = .established
            acknowledged = welcome.resumeSequence
            highestSent = welcome.resumeSequence
            return .resume(welcome)
        case (.awaitingWelcome, .refuse(let refusal)):
            phase = .closed
            return .refused(refusal)
        case (.established, .ack(let sequence)):
            guard sequence >= acknowledged, sequence <= highestSent else {
                throw WireError(.illegalFrame(
                    state: "client established (acknowledged \(acknowledged), sent up to \(highestSent))",
                    frame: "ack \(sequence)"))
            }
            acknowledged = sequence
            inFlight.removeAll { $0.sequence <= sequence }
            return .acknowledged(sequence)
        case (.established, .refuse(let refusal)):
            if refusal.code == .malformed {
                inFlight.removeAll { $0.sequence == refusal.sequence }
            } else {
                inFlight.removeAll()
            }
            return .refused(refusal)
        default:
            throw illegal(frame.kind.description)
        }
    }

    /// Records that `frame` is being sent and returns it as a frame.
    ///
    /// - Throws: ``WireError/Kind/illegalFrame`` when not established, when the window is full, or when the
    ///   sequence is already acknowledged.
    public mutating func send(_ frame: BatchFrame) throws(WireError) -> Frame {
        guard canSend else { throw illegal("batch (sending, \(inFlight.count) in flight)") }
        guard frame.sequence > acknowledged else { throw illegal("batch \(frame.sequence) (already acknowledged)") }
        inFlight.append((frame.sequence, frame.part))
        highestSent = max(highestSent, frame.sequence)
        return .batch(frame)
    }

    private func illegal(_ frame: String) -> WireError {
        WireError(.illegalFrame(state: "client \(phase.rawValue)", frame: frame))
    }
}
