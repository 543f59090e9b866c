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

    /// Wraps a fresh client state (normally awaiting the server hello).
    public init(state: ClientProtocolState) {
        self.state = state
    }

    /// Feeds a frame from the server to the state machine.
    public func receive(_ frame: Frame) throws(WireError) -> ClientProtocolState.Action {
        let action = try state.receive(frame)
        switch action {
        case .committed:
            madeProgress = true
            progressed()
        case .refused:
            progressed()
        default:
            break
        }
        return action
    }

    /// Waits until another record may be sent; honours cancellation.
    public func waitForSpace() async throws {
        while !state.canSend {
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

    /// Notes record `sequence` as sent.
    public func send(_ sequence: UInt64) throws(WireError) {
        if state.inFlight.isEmpty { lastProgress = .now }
        try state.send(sequence)
    }

    /// Notes record `sequence` as quarantined; returns the new commit point when it moved.
    func resolved(_ sequence: UInt64) -> UInt64? {
        let moved = state.resolved(sequence)
        progressed()
        return moved
    }

    private func progressed() {
        lastProgress = .now
        while state.canSend, !spaceWaiters.isEmpty {
            spaceWaiters.removeFirst().continuation.resume()
        }
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
