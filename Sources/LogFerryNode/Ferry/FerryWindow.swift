/// The batches a ferry sink has sent and not yet seen acknowledged, and the commit point they imply.
///
/// The sender waits here for room; the receiver feeds in cumulative acks and per-batch resolutions (a batch
/// the peer refused as malformed is quarantined and counts as done). The commit point is the highest
/// sequence with nothing unresolved at or below it: the sink's cursor may move there.
actor FerryWindow {
    private let capacity: Int
    private var inFlight: [(sequence: UInt64, resolved: Bool)] = []
    private var spaceWaiters: [(id: Int, continuation: CheckedContinuation<Void, any Error>)] = []
    private var nextWaiterID = 0
    /// Everything at or below this is durable downstream (or resolved).
    private(set) var commitPoint: UInt64
    /// When the last ack or resolution arrived (or the window was last empty).
    private(set) var lastProgress: ContinuousClock.Instant = .now

    init(capacity: Int, commitPoint: UInt64) {
        self.capacity = max(capacity, 1)
        self.commitPoint = commitPoint
    }

    /// Batches in flight.
    var count: Int { inFlight.count }

    /// Waits until another batch may be sent; honours cancellation.
    func waitForSpace() async throws {
        while inFlight.count >= capacity {
            try Task.checkCancellation()
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

    /// Notes a sent batch.
    func sent(_ sequence: UInt64) {
        if inFlight.isEmpty { lastProgress = .now }
        inFlight.append((sequence, false))
    }

    /// A cumulative ack: everything up to `sequence` is durable downstream.
    func acked(through sequence: UInt64) {
        inFlight.removeAll { $0.sequence <= sequence }
        commitPoint = max(commitPoint, sequence)
        settle()
    }

    /// A batch that needs no ack (quarantined after a malformed refusal, or unreadable locally).
    func resolved(_ sequence: UInt64) {
        if let index = inFlight.firstIndex(where: { $0.sequence == sequence }) {
            inFlight[index].resolved = true
        } else if inFlight.isEmpty || sequence > (inFlight.last?.sequence ?? 0) {
            commitPoint = max(commitPoint, sequence)
        }
        settle()
    }

    private func settle() {
        while let first = inFlight.first, first.resolved {
            commitPoint = max(commitPoint, first.sequence)
            inFlight.removeFirst()
        }
        lastProgress = .now
        while inFlight.count < capacity, !spaceWaiters.isEmpty {
            spaceWaiters.removeFirst().continuation.resume()
        }
    }

    /// Whether batches have been in flight without any progress for longer than `timeout`.
    func isStalled(after timeout: Duration) -> Bool {
        !inFlight.isEmpty && ContinuousClock.now - lastProgress > timeout
    }
}
