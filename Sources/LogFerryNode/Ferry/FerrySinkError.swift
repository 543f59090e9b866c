import NIOCore
import NIOPosix
import LogFerryWire

/// Why a ferry connection ended.
enum FerrySinkError: Error, CustomStringConvertible {
    case cannotConnect(Upstream, any Error)
    case closedDuringHandshake(Upstream)
    case protocolViolation(Upstream, String)
    case refused(Upstream, RefusalCode, String)
    case stalled(Upstream, Duration)
    case goingAway(Upstream, String)

    /// Whether the upstream's host answered the connection attempt with a refusal (nothing listening on the
    /// port: the node is restarting or down while its host is up). Retrying soon costs nothing, and a
    /// receiver coming back after an outage is then found within about a second.
    var isConnectionRefused: Bool {
        guard case .cannotConnect(_, let error) = self else { return false }
        return Self.isRefused(error)
    }

    private static func isRefused(_ error: any Error) -> Bool {
        if let error = error as? IOError { return error.errnoCode == ECONNREFUSED }
        if let error = error as? NIOConnectionError {
            return !error.connectionErrors.isEmpty && error.connectionErrors.allSatisfy { isRefused($0.error) }
        }
        return false
    }

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
                return "upstream \(upstream) refused us as unauthorized: \(reason). Check the key (--key-file or --key-dir on both ends) or, with mutual TLS, the client certificate's names; retrying slowly."
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
