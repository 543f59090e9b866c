/// The client side of the ferry protocol as a pure value: the handshake, the version choice, the auth proof,
/// where to resume, and the window of records in flight with the commit point the acks imply. No sockets,
/// no clocks: the ferry sink feeds it frames and carries out its actions, so this is the one implementation
/// of the client's protocol.
///
/// Phases: `awaitingHello` → (server hello; the client hello goes out) `awaitingWelcome` → (welcome)
/// `established` → `closed`. Records may be sent only when established and while fewer than the window
/// (the smaller of ours and the server's `maxWindow`) are unresolved.
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
        /// The handshake is done: send records from `resumeAfter + 1` on. `resumeAfter` is the larger of the
        /// sink's own acknowledged cursor and the server's resume point, so nothing any upstream acknowledged
        /// is sent again.
        case resume(resumeAfter: UInt64, welcome: Welcome)
        /// The commit point moved: every record up to it is durable upstream (or resolved); commit the cursor.
        case committed(UInt64)
        /// A refusal of a record or of the connection; see ``RefusalCode`` for what to do. After anything but
        /// malformed the window is emptied: back off, then send again from the commit point.
        case refused(Refusal)
        /// The server is going away (bye); reconnect, with backoff, to the next upstream.
        case closed(String)
    }

    /// The versions this client speaks.
    public let versions: ClosedRange<UInt16>
    /// This client's spool id (16 bytes).
    public let spoolID: [UInt8]
    /// This client's host name.
    public let hostName: String
    private let key: [UInt8]?
    /// The highest sequence the client's spool has ever given out: a resume point beyond it is impossible.
    private let highestSealed: UInt64
    private let preferredWindow: Int
    private let usesResumePoint: Bool

    /// Where the connection is.
    public private(set) var phase: Phase = .awaitingHello
    /// The version chosen from the server's hello.
    public private(set) var version: UInt16?
    /// The limits the server announced; records must be cut to fit them.
    public private(set) var serverLimits: WireLimits?
    /// Every record at or below this is durable upstream or resolved: the sink's cursor may move here.
    public private(set) var commitPoint: UInt64
    /// The records sent (or being sent) and not yet acknowledged or resolved, oldest first.
    public private(set) var inFlight: [(sequence: UInt64, resolved: Bool)] = []
    /// The highest record ever sent on this connection (acks up to it are legal).
    private var highestSent: UInt64 = 0
    /// The last record sent; the next must be above it (it drops back after a refusal, to resend).
    private var lastSent: UInt64 = 0

    /// Creates the state of one client connection.
    ///
    /// - Parameters:
    ///   - spoolID: the id of the sink's spool, sent in the client hello.
    ///   - hostName: this node's name, sent in the client hello.
    ///   - key: the shared key, nil when none is configured.
    ///   - acknowledged: the sink's committed cursor; the client never sends at or below it.
    ///   - highestSealed: the last sequence the spool ever gave out.
    ///   - window: records in flight at most (the server's `maxWindow` may lower it).
    ///   - usesResumePoint: false for a replay, which sends everything after `acknowledged` whatever the
    ///     server already holds (the server deduplicates by origin).
    ///   - versions: the protocol versions this client speaks.
    public init(
        spoolID: [UInt8], hostName: String, key: [UInt8]?, acknowledged: UInt64 = 0, highestSealed: UInt64 = .max,
        window: Int = 16, usesResumePoint: Bool = true, versions: ClosedRange<UInt16> = ProtocolVersion.supported
    ) {
        self.usesResumePoint = usesResumePoint
        self.spoolID = spoolID
        self.hostName = hostName
        self.key = key
        self.commitPoint = acknowledged
        self.highestSealed = highestSealed
        self.preferredWindow = max(window, 1)
        self.versions = versions
    }

    /// Records in flight at most on this connection.
    public var windowSize: Int {
        min(preferredWindow, Int(serverLimits?.maxWindow ?? 1))
    }

    /// Whether a record may be sent now (established and the window has room).
    public var canSend: Bool {
        phase == .established && inFlight.count < windowSize
    }

    /// Handles a frame from the server.
    ///
    /// - Throws: ``WireError/Kind/illegalFrame(state:frame:)`` when the frame is not allowed now or names an
    ///   impossible position, or ``WireError/Kind/unsupportedVersion(offered:supported:)`` when the server
    ///   speaks no version we do; close the connection.
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
            guard welcome.resumeSequence <= highestSealed else {
                phase = .closed
                throw WireError(.illegalFrame(
                    state: "client awaiting welcome (this spool never sealed a batch past \(highestSealed))",
                    frame: "welcome resuming after \(welcome.resumeSequence): the upstream holds batches of our spool id that we never made; another node may run on a copy of this spool"))
            }
            phase = .established
            if usesResumePoint { commitPoint = max(commitPoint, welcome.resumeSequence) }
            highestSent = commitPoint
            lastSent = commitPoint
            return .resume(resumeAfter: commitPoint, welcome: welcome)
        case (.awaitingWelcome, .refuse(let refusal)):
            phase = .closed
            return .refused(refusal)
        case (.established, .ack(let sequence)):
            guard sequence <= highestSent else {
                throw WireError(.illegalFrame(
                    state: "client established (committed \(commitPoint), sent up to \(highestSent))",
                    frame: "ack \(sequence)"))
            }
            inFlight.removeAll { $0.sequence <= sequence }
            let before = commitPoint
            commitPoint = max(commitPoint, sequence)
            settle()
            return commitPoint > before ? .committed(commitPoint) : .none
        case (.established, .refuse(let refusal)):
            if refusal.code == .malformed, refusal.sequence != 0 {
                // The sink quarantines the record and then calls resolved(_:).
                return .refused(refusal)
            }
            // Everything unresolved will be sent again (on this connection, or on the next).
            inFlight.removeAll()
            lastSent = commitPoint
            if refusal.sequence == 0 || refusal.code == .protocolViolation || refusal.code == .unauthorized
                || refusal.code == .unsupportedVersion
            {
                phase = .closed
            }
            return .refused(refusal)
        default:
            throw illegal(frame.kind.description)
        }
    }

    /// Records that record `sequence` is being sent (all its parts). Call before writing its frames.
    ///
    /// - Throws: ``WireError/Kind/illegalFrame(state:frame:)`` when not established, when the window is full,
    ///   or when the record is at or below the commit point.
    public mutating func send(_ sequence: UInt64) throws(WireError) {
        guard canSend else { throw illegal("batch \(sequence) (\(inFlight.count) in flight)") }
        guard sequence > commitPoint, sequence > lastSent else {
            throw illegal("batch \(sequence) (committed \(commitPoint), last sent \(lastSent))")
        }
        inFlight.append((sequence, false))
        lastSent = sequence
        highestSent = max(highestSent, sequence)
    }

    /// Records that record `sequence` needs no ack: it was quarantined (refused as malformed, or unreadable
    /// in the local spool). Returns the new commit point when it moved.
    @discardableResult
    public mutating func resolved(_ sequence: UInt64) -> UInt64? {
        let before = commitPoint
        if let index = inFlight.firstIndex(where: { $0.sequence == sequence }) {
            inFlight[index].resolved = true
        } else if sequence > lastSent {
            // Skipped without being sent: it settles once everything before it has.
            lastSent = sequence
            highestSent = max(highestSent, sequence)
            inFlight.append((sequence, true))
        }
        settle()
        return commitPoint > before ? commitPoint : nil
    }

    private mutating func settle() {
        while let first = inFlight.first, first.resolved {
            commitPoint = max(commitPoint, first.sequence)
            inFlight.removeFirst()
        }
    }

    private func illegal(_ frame: String) -> WireError {
        WireError(.illegalFrame(state: "client \(phase.rawValue)", frame: frame))
    }
}
