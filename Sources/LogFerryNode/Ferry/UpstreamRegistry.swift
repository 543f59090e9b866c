import LogFerrySpool

/// The live resume points of a ferry listener and the one session each upstream spool may have.
///
/// A client that reconnects while its old connection is still half-open must not race it: the old session
/// could still be storing a batch that the new one is about to receive again. So a new session for a spool id
/// first closes the old one and waits until it has recorded everything it stored; only then is the resume
/// point read.
actor UpstreamRegistry {
    private var marks: UpstreamMarks
    private var sessions: [SpoolID: Session] = [:]
    private var nextSessionID = 0

    private struct Session {
        var id: Int
        var close: @Sendable () -> Void
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    init(marks: UpstreamMarks) {
        self.marks = marks
    }

    /// Registers a session for `spoolID`, ending any earlier one first; returns the session's token.
    func claim(_ spoolID: SpoolID, close: @escaping @Sendable () -> Void) async -> Int {
        while let old = sessions[spoolID] {
            old.close()
            await withCheckedContinuation { continuation in
                sessions[spoolID]?.waiters.append(continuation)
            }
            // Another claimant may have slipped in while we waited; loop until the slot is free.
            if sessions[spoolID]?.id == old.id { break }
        }
        nextSessionID += 1
        sessions[spoolID] = Session(id: nextSessionID, close: close)
        return nextSessionID
    }

    /// Ends the session `token` of `spoolID`, waking a claimant waiting for it.
    func release(_ spoolID: SpoolID, token: Int) {
        guard let session = sessions[spoolID], session.id == token else { return }
        sessions[spoolID] = nil
        for waiter in session.waiters { waiter.resume() }
    }

    /// Where the client with `spoolID` resumes.
    func resumePoint(for spoolID: SpoolID) -> (sequence: UInt64, part: UInt16) {
        marks.resumePoint(for: spoolID)
    }

    /// Whether a batch part is already stored.
    func contains(_ spoolID: SpoolID, sequence: UInt64, part: UInt16) -> Bool {
        marks.contains(spoolID, sequence: sequence, part: part)
    }

    /// Notes a durably stored batch part.
    func record(_ position: UpstreamPosition) {
        marks.record(position)
    }

    /// The number of live sessions.
    var sessionCount: Int { sessions.count }
}
