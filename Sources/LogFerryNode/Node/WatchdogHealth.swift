/// Whether a node still makes progress, as its watchdog loop sees it: the health probe (a round trip through the
/// spool) must have completed within `wedgeAfter`. A pure value, so its decisions are tested without clocks.
struct WatchdogHealth: Sendable {
    /// What the watchdog loop does at a tick.
    enum Verdict: Equatable, Sendable {
        /// The node progresses: send `WATCHDOG=1`.
        case pet
        /// The node just stopped progressing (no probe completed for `stalledFor`): stop petting, say why once.
        case wedged(stalledFor: Duration)
        /// Still wedged: keep not petting.
        case stillWedged
    }

    /// How long without a completed probe counts as a wedge.
    let wedgeAfter: Duration
    /// When the last probe completed (or the loop began).
    private(set) var lastProgress: ContinuousClock.Instant
    /// Whether the node is currently considered wedged.
    private(set) var isWedged = false

    /// Health as of `start`, counted as progress.
    init(wedgeAfter: Duration, start: ContinuousClock.Instant) {
        self.wedgeAfter = wedgeAfter
        self.lastProgress = start
    }

    /// A probe completed at `now`; returns true when this ends a wedge (the node recovered).
    mutating func progressed(at now: ContinuousClock.Instant) -> Bool {
        lastProgress = max(lastProgress, now)
        defer { isWedged = false }
        return isWedged
    }

    /// The decision at `now`.
    mutating func check(at now: ContinuousClock.Instant) -> Verdict {
        let stalled = now - lastProgress
        guard stalled >= wedgeAfter else { return .pet }
        if isWedged { return .stillWedged }
        isWedged = true
        return .wedged(stalledFor: stalled)
    }
}
