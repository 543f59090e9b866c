import LogFerryWire

/// One ferry connection's client state shared by the sink's tasks: ``ClientProtocolState`` (the protocol and
/// the window of records in flight) plus what only I/O needs — waiting for room in the window, and the time
/// of the last progress, so a peer that holds batches without acking is abandoned.
///
/// Public so `logferry bench fanin` drives its many sessions through this very client, not a copy of it.
public actor FerryClientSession {
    /// The protocol state machine of the connection.
    public private(set) var state: ClientProtocolState
    private var spaceWaiters: [(id: Int, continuation: CheckedContinuation<Void, any Error>)] = []
    private var nextWaiterID = 0
    /// When the last ack or resolution arrived (or the window was last empty).
    private var lastProgress: ContinuousClock.Instant = .now
    /// Whether any record was acknowledged on this connection.
    private(set) var madeProgress = false
    /// What the link moves, from this connection's acks (seeded from the previous connection's).
    private(set) var link: LinkRateEstimator

    /// How long what is in flight may take to cross the link (``LinkRateEstimator/allowsAnotherRecord(within:)``);
    /// nil sends as the window allows.
    private let inFlightTarget: Duration?

    /// Wraps a fresh client state (normally awaiting the server hello); sends as the window allows.
    public init(state: ClientProtocolState) {
        self.init(state: state, link: LinkRateEstimator(), inFlightTarget: nil)
    }

    init(state: ClientProtocolState, link: LinkRateEstimator, inFlightTarget: Duration?) {
        self.state = state
        self.inFlightTarget = inFlightTarget
        self.link = link
        self.link.connectionEnded()
    }

    /// Feeds a frame from the server to the state machine.
    public func receive(_ frame: Frame) throws(WireError) -> ClientProtocolState.Action {
        let action = try state.receive(frame)
        switch action {
        case .committed(let point):
            madeProgress = true
            link.acknowledged(through: point, at: .now)
            progressed()
        case .refused:
            if state.inFlight.isEmpty { link.forgetInFlight() }
            progressed()
        default:
            break
        }
        return action
    }

    /// Waits until another record may be sent; honours cancellation.
    public func waitForSpace() async throws {
        while !canSend {
            try Task.checkCancellation()
            guard state.phase == .established else { throw CancellationError() }
            nextWaiterID += 1
            let id = nextWaiterID
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { continuation in
                    spaceWaiters.append((id, continuation))
                }
            } onCancel: {
                Task { await self.cancelWaiter(id) }
            }
        }
    }

    private func cancelWaiter(_ id: Int) {
        if let index = spaceWaiters.firstIndex(where: { $0.id == id }) {
            spaceWaiters.remove(at: index).continuation.resume(throwing: CancellationError())
        }
    }

    /// Notes record `sequence`, `bytes` on the wire, as sent.
    public func send(_ sequence: UInt64, bytes: Int = 0) throws(WireError) {
        if state.inFlight.isEmpty { lastProgress = .now }
        try state.send(sequence)
        link.sent(sequence, bytes: bytes, at: .now)
    }

    /// Notes record `sequence` as quarantined; returns the new commit point when it moved.
    func resolved(_ sequence: UInt64) -> UInt64? {
        let moved = state.resolved(sequence)
        link.forget(through: sequence)
        progressed()
        return moved
    }

    private func progressed() {
        lastProgress = .now
        while canSend, !spaceWaiters.isEmpty {
            spaceWaiters.removeFirst().continuation.resume()
        }
    }

    /// Whether the window and the link both have room for another record.
    private var canSend: Bool {
        state.canSend && (inFlightTarget.map { link.allowsAnotherRecord(within: $0) } ?? true)
    }

    /// Notes that the peer's TCP took more of our bytes (a big frame moving over a slow link).
    func wireProgressed() {
        lastProgress = .now
    }

    /// Whether records have been in flight without any progress for longer than `timeout`.
    func isStalled(after timeout: Duration) -> Bool {
        !state.inFlight.isEmpty && ContinuousClock.now - lastProgress > timeout
    }

    /// The commit point: every record up to it is durable upstream or resolved.
    public var commitPoint: UInt64 { state.commitPoint }

    /// Records in flight.
    var inFlightCount: Int { state.inFlight.count }
}
