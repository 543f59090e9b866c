/// Why a receiver refused a frame, and so what the sender does next (see Docs/PROTOCOL.md §Refusals).
public enum RefusalCode: UInt8, Sendable, Hashable, CaseIterable {
    /// Backpressure: the receiver cannot store now. Back off and resend from the oldest unacknowledged batch.
    case retryLater = 1
    /// The batch exceeds the announced limits. Split it into parts that fit and resend.
    case tooLarge
    /// The batch cannot be decoded. Quarantine it locally and move on to the next one.
    case malformed
    /// The handshake proof is missing or wrong. Log it loudly and retry slowly; the connection closes.
    case unauthorized
    /// No protocol version in common. Log it loudly and retry slowly; the connection closes.
    case unsupportedVersion
    /// The receiver failed for a reason of its own. Back off and resend, like ``retryLater``.
    case internalError
    /// The connection broke the protocol (an undecodable or oversized frame, a frame not allowed now, parts
    /// out of order). About the connection, never a batch to quarantine; the connection closes.
    case protocolViolation

    /// A short stable name for logs and metric labels, e.g. `retry_later`.
    public var label: String {
        switch self {
        case .retryLater: "retry_later"
        case .tooLarge: "too_large"
        case .malformed: "malformed"
        case .unauthorized: "unauthorized"
        case .unsupportedVersion: "unsupported_version"
        case .internalError: "internal_error"
        case .protocolViolation: "protocol_violation"
        }
    }
}
