/// Exponential backoff with full jitter: the n-th retry waits a random time in [0, min(cap, base × 2ⁿ)],
/// so a crowd of agents that lost the same relay does not come back in lockstep. `UpstreamRotation` resets the
/// count once a connection has made progress.
public struct Backoff: Sendable, Hashable {
    /// The first ceiling.
    public var base: Duration
    /// The largest ceiling.
    public var cap: Duration
    /// Failures since the last reset.
    private(set) var attempt: Int = 0

    /// Creates a backoff.
    public init(base: Duration = .milliseconds(100), cap: Duration = .seconds(30)) {
        self.base = base
        self.cap = cap
    }

    /// The ceiling of the next delay, before jitter.
    var ceiling: Duration {
        let factor = attempt >= 30 ? Int64(1) << 30 : Int64(1) << attempt
        let candidate = base * Int(factor)
        return min(candidate, cap)
    }

    /// Returns the next delay and counts a failure.
    mutating func next<RNG: RandomNumberGenerator>(using rng: inout RNG) -> Duration {
        let ceilingNanos = max(ceiling.nanoseconds, 0)
        attempt += 1
        guard ceilingNanos > 0 else { return .zero }
        return .nanoseconds(Int64.random(in: 0...Int64(ceilingNanos), using: &rng))
    }

    /// Returns the next delay with the system's random generator.
    mutating func next() -> Duration {
        var rng = SystemRandomNumberGenerator()
        return next(using: &rng)
    }

    /// Starts again from `base` (after a connection made progress).
    mutating func reset() {
        attempt = 0
    }
}
