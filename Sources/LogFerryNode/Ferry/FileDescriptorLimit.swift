#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The process's limit on open file descriptors (`RLIMIT_NOFILE`).
///
/// Every ferry session is a socket, so a listener serving thousands of agents needs thousands of descriptors,
/// while distributions start services with a soft limit of 1,024. A listener raises its soft limit to the hard
/// limit at start (no privilege needed); past the hard limit only the operator can help (`LimitNOFILE=` in
/// the systemd unit, `ulimit -Hn`).
public enum FileDescriptorLimit {
    /// Raises the soft limit to the hard limit; returns the limits in force afterwards.
    @discardableResult
    public static func raiseToHard() -> (soft: Int, hard: Int) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return (0, 0) }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return (Self.clamp(limit.rlim_cur), Self.clamp(limit.rlim_max))
    }

    /// RLIM_INFINITY (all ones) and anything past Int.max read as Int.max.
    private static func clamp(_ value: rlim_t) -> Int {
        value > rlim_t(Int.max) ? Int.max : Int(value)
    }
}
