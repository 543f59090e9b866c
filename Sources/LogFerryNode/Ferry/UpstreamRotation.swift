/// Which upstream a ferry sink connects to next, and how long it waits first: the failover bookkeeping as a
/// pure value (no clock, no sockets), so its rules are tested directly.
///
/// - A connection that ends, for whatever reason, moves on to the **next** upstream in the list; the one
///   that failed is tried again only after every other one (failover and round-robin alike).
/// - `failover` starts at the first upstream and stays on one as long as it works; `round-robin` starts at
///   a random one (so a fleet of agents spreads over the relays) and moves on after every connection.
/// - After a connection that made progress (acks), the next one is tried at once (jitter up to `base`). After
///   failures, the delay grows with full jitter only once every upstream has failed in a row.
struct UpstreamRotation: Sendable {
    /// How many upstreams there are.
    let count: Int
    /// The index of the upstream to connect to now.
    private(set) var current: Int
    private var backoff: Backoff
    /// Connections in a row that made no progress.
    private(set) var failuresInARow = 0
    /// Of those, how many were refused outright by the upstream's host.
    private var refusedInARow = 0

    init<RNG: RandomNumberGenerator>(count: Int, selection: UpstreamSelection, backoff: Backoff, using rng: inout RNG) {
        self.count = max(count, 1)
        self.backoff = backoff
        self.current = selection == .roundRobin ? Int.random(in: 0..<max(count, 1), using: &rng) : 0
    }

    /// The longest wait after a round in which every upstream refused the connection outright (their hosts
    /// are up, the nodes are not): such an attempt costs a SYN and a RST, so a restarted receiver is found within
    /// a quarter of a second and a backlog starts draining at once (at 1 s, the wait was a third of a 1 GB drain).
    static let refusedRetryCap: Duration = .milliseconds(250)

    /// Notes how the connection to ``current`` ended and moves on; returns how long to wait before the next.
    /// `refused` says the attempt was refused by the upstream's host (nothing listening).
    mutating func connectionEnded<RNG: RandomNumberGenerator>(
        madeProgress: Bool, refused: Bool = false, using rng: inout RNG
    ) -> Duration {
        if refused { refusedInARow += 1 } else if !madeProgress { refusedInARow = 0 }
        current = (current + 1) % count
        if madeProgress {
            failuresInARow = 0
            refusedInARow = 0
            backoff.reset()
            return .nanoseconds(Int64.random(in: 0...Int64(max(backoff.base.nanoseconds, 0)), using: &rng))
        }
        failuresInARow += 1
        if failuresInARow < count {
            // Others remain untried in this round: go to the next one promptly.
            return .nanoseconds(Int64.random(in: 0...Int64(max(backoff.base.nanoseconds, 0)), using: &rng))
        }
        let delay = backoff.next(using: &rng)
        guard refusedInARow >= count else { return delay }
        // Every upstream refused in this round: retry within the short cap (still jittered), keeping the
        // backoff's growth for when the failures turn into timeouts.
        let cap = Self.refusedRetryCap.nanoseconds
        return delay.nanoseconds <= cap ? delay : .nanoseconds(Int64.random(in: Int64(cap / 2)...Int64(cap), using: &rng))
    }

    /// The largest delay, for problems retrying soon will not fix (a wrong key, a version mismatch).
    var cap: Duration { backoff.cap }
}
