import Synchronization

/// Rate-limits the log line of connections refused past `--max-sessions`: thousands of agents reconnecting at
/// once would otherwise write thousands of identical warnings. The first refusal of a burst is logged at once;
/// later ones are only counted (every one is in `logferry_ferry_listener_sessions_refused_total`) until
/// `interval` has passed, when the next refusal's line says how many went unlogged in between.
final class RefusalBurst: Sendable {
    /// At most one log line per this interval.
    let interval: Duration
    private let state = Mutex<(lastLogged: ContinuousClock.Instant?, unlogged: Int)>((nil, 0))

    init(interval: Duration = .seconds(10)) {
        self.interval = interval
    }

    /// Notes one refusal at `now`. Returns the number of refusals not logged since the last line when this
    /// one should be logged, or nil when it is only counted.
    func refused(now: ContinuousClock.Instant = .now) -> Int? {
        state.withLock { state in
            if let last = state.lastLogged, now - last < interval {
                state.unlogged += 1
                return nil
            }
            let unlogged = state.unlogged
            state = (now, 0)
            return unlogged
        }
    }
}
