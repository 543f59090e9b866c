import LogFerrySpool

/// What a ferry listener shares between its connections: the resume point of every sender, what it holds
/// per origin, and the one session each sending spool may have.
///
/// Storing is admitted one batch at a time across all sessions (check what is missing, write it, note it
/// held), so two copies of one batch arriving at once through two relays, or twice on one connection, are
/// written once. A copy that arrives while the first is written but not yet durable waits for that
/// durability before it is acknowledged (``lastPending``).
actor UpstreamRegistry {
    private var state: ListenerState
    /// Which host each sending spool id belongs to (per-host keys), persisted in the spool.
    private var owners: [SpoolID: String] = [:]
    private let ownersStore: (@Sendable ([SpoolID: String]) async -> Void)?
    private var sessions: [SpoolID: Session] = [:]
    private var nextSessionID = 0
    private var admitting = false
    private var admissionWaiters: [CheckedContinuation<Void, Never>] = []
    /// The last record written by any session: once it is durable, everything written before it is too.
    private(set) var lastPending: SpoolPendingAppend?

    private struct Session {
        var id: Int
        var peer: String
        var close: @Sendable () -> Void
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    init(state: ListenerState, owners: [SpoolID: String] = [:], saveOwners: (@Sendable ([SpoolID: String]) async -> Void)? = nil) {
        self.state = state
        self.owners = owners
        self.ownersStore = saveOwners
    }

    /// Binds `spoolID` to `host` on first use; returns the host it belongs to (`host` itself, or the first one).
    func bind(_ spoolID: SpoolID, to host: String) async -> String? {
        if let owner = owners[spoolID] { return owner }
        owners[spoolID] = host
        await ownersStore?(owners)
        return host
    }

    /// Registers a session for `spoolID`, ending an earlier one first. Returns the session's token, or nil
    /// when the earlier session did not finish within `patience` (the caller refuses with retry-later).
    func claim(_ spoolID: SpoolID, peer: String, patience: Duration, close: @escaping @Sendable () -> Void) async -> Int? {
        let deadline = ContinuousClock.now + patience
        if let old = sessions[spoolID], Self.address(of: old.peer) != Self.address(of: peer) {
            // Two live sessions of one spool id from different machines: a copied spool, or someone
            // presenting another node's id. The session in place wins; the newer is refused.
            return nil
        }
        while let old = sessions[spoolID] {
            old.close()
            let released = await waitForRelease(spoolID, sessionID: old.id, until: deadline)
            if !released { return nil }
        }
        nextSessionID += 1
        sessions[spoolID] = Session(id: nextSessionID, peer: peer, close: close)
        return nextSessionID
    }

    /// A peer's address without its port (`[IPv4]10.0.0.5/10.0.0.5:41672` → `[IPv4]10.0.0.5/10.0.0.5`).
    static func address(of peer: String) -> Substring {
        guard let colon = peer.lastIndex(of: ":") else { return peer[...] }
        return peer[..<colon]
    }

    /// The peer of the live session of `spoolID`, if any.
    func peer(of spoolID: SpoolID) -> String? { sessions[spoolID]?.peer }

    private func waitForRelease(_ spoolID: SpoolID, sessionID: Int, until deadline: ContinuousClock.Instant) async -> Bool {
        let timeout = Task { [weak self] in
            try await Task.sleep(until: deadline)
            await self?.wakeClaimants(spoolID, sessionID: sessionID)
        }
        await withCheckedContinuation { continuation in
            sessions[spoolID]?.waiters.append(continuation)
        }
        timeout.cancel()
        return sessions[spoolID]?.id != sessionID
    }

    private func wakeClaimants(_ spoolID: SpoolID, sessionID: Int) {
        guard sessions[spoolID]?.id == sessionID, let waiters = sessions[spoolID]?.waiters else { return }
        sessions[spoolID]?.waiters = []
        for waiter in waiters { waiter.resume() }
    }

    /// Ends the session `token` of `spoolID`, waking a claimant waiting for it.
    func release(_ spoolID: SpoolID, token: Int) {
        guard let session = sessions[spoolID], session.id == token else { return }
        sessions[spoolID] = nil
        for waiter in session.waiters { waiter.resume() }
    }

    /// Where the client with `spoolID` resumes: the highest of its records held whole (0: none).
    func resumePoint(for spoolID: SpoolID) -> UInt64 {
        state.marks.resumePoint(for: spoolID).sequence
    }

    /// Notes a durably stored record part of a sender (for the resume point).
    func record(_ position: UpstreamPosition) {
        state.marks.record(position)
    }

    // MARK: - Admission

    /// Waits for the right to admit a batch; pair with ``endAdmission()``.
    func beginAdmission() async {
        if admitting {
            await withCheckedContinuation { admissionWaiters.append($0) }
        } else {
            admitting = true
        }
    }

    /// Passes the right to admit to the next waiting session.
    func endAdmission() {
        if admissionWaiters.isEmpty {
            admitting = false
        } else {
            admissionWaiters.removeFirst().resume()
        }
    }

    /// What of `coverage` is not held (call between begin and end of admission).
    func missing(_ coverage: OriginCoverage) -> OriginLedger.Missing {
        state.ledger.missing(coverage)
    }

    /// Notes `coverages` held, written as `pending` (call between begin and end of admission).
    func held(_ coverages: [OriginCoverage], pending: SpoolPendingAppend?) {
        let now = ListenerState.now()
        for coverage in coverages { state.ledger.insert(coverage, now: now) }
        state.ledger.expireIfDue(now: now)
        if let pending { lastPending = pending }
    }

    /// The number of live sessions.
    var sessionCount: Int { sessions.count }

    /// Origins known and ranges held, for gauges and the memory figure.
    var ledgerSize: (origins: Int, ranges: Int) { (state.ledger.origins.count, state.ledger.rangeCount) }
}
