import LogFerryWire

/// Why a ferry connection ended.
enum FerrySinkError: Error, CustomStringConvertible {
    case cannotConnect(Upstream, any Error)
    case closedDuringHandshake(Upstream)
    case protocolViolation(Upstream, String)
    case refused(Upstream, RefusalCode, String)
    case stalled(Upstream, Duration)
    case goingAway(Upstream, String)

    /// Problems that retrying soon will not fix (a wrong key, a version mismatch): retried slowly.
    var isConfigurationProblem: Bool {
        if case .refused(_, let code, _) = self { return code == .unauthorized || code == .unsupportedVersion }
        return false
    }

    /// An operator-facing description.
    var description: String {
        switch self {
        case .cannotConnect(let upstream, let error):
            return "cannot connect to upstream \(upstream): \(error); is it running and reachable? Batches wait in the spool."
        case .closedDuringHandshake(let upstream):
            return "upstream \(upstream) closed the connection during the handshake (TLS or key mismatch?)"
        case .protocolViolation(let upstream, let what):
            return "upstream \(upstream) broke the protocol: \(what)"
        case .refused(let upstream, let code, let reason):
            switch code {
            case .unauthorized:
                return "upstream \(upstream) refused us as unauthorized: \(reason). Check that --key-file holds the same key on both ends; retrying slowly."
            case .unsupportedVersion:
                return "upstream \(upstream) does not speak our protocol version: \(reason). Upgrade one side; retrying slowly."
            default:
                return "upstream \(upstream) refused (\(code)): \(reason)"
            }
        case .stalled(let upstream, let timeout):
            return "upstream \(upstream) acknowledged nothing for \(timeout) while batches were in flight; abandoning it"
        case .goingAway(let upstream, let reason):
            return "upstream \(upstream) is going away: \(reason)"
        }
    }
}
