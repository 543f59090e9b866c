import CNats

/// A NATS or JetStream failure, said the way an operator needs it: what was being done, against which servers,
/// what the server or library answered, and what to do about it.
public struct NATSError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The class of failure, for callers that react differently (retry later, stop, warn).
    public enum Kind: Sendable, Equatable {
        /// No server in the list could be reached.
        case noServers
        /// The server answered, but has no JetStream (or no stream takes the subject).
        case noJetStream
        /// The server refused the operation for the credentials in use.
        case permissionDenied
        /// The stream refused a message because it reached its size or message limit.
        case streamFull
        /// No answer in time: the cluster may have lost quorum, or the server is overloaded.
        case timeout
        /// The JetStream cluster is up but cannot serve the request now (no leader, no quorum).
        case clusterUnavailable
        /// The stream or consumer does not exist.
        case notFound
        /// The connection was closed or is reconnecting.
        case disconnected
        /// The NATS C client library is not installed (or not the version LogFerry was built with).
        case libraryMissing
        /// Anything else.
        case other
    }

    /// The class of failure.
    public var kind: Kind
    /// What was being done, e.g. `publish to logs.web-1` or `create stream LOGFERRY`.
    public var operation: String
    /// What the library or server said.
    public var detail: String
    /// The JetStream error code the server gave (0: none), e.g. 10058 "stream name already in use".
    public var jetStreamCode: Int

    /// Creates an error.
    public init(kind: Kind, operation: String, detail: String, jetStreamCode: Int = 0) {
        self.kind = kind
        self.operation = operation
        self.detail = detail
        self.jetStreamCode = jetStreamCode
    }

    /// Whether trying again later can succeed without an operator's change (a server back, quorum regained).
    public var isTransient: Bool {
        switch kind {
        case .noServers, .timeout, .clusterUnavailable, .disconnected, .streamFull, .other: return true
        case .noJetStream, .permissionDenied, .notFound, .libraryMissing: return false
        }
    }

    /// The operator-facing sentence.
    public var description: String {
        let advice: String
        switch kind {
        case .noServers:
            advice = "no NATS server is reachable; check the URLs and that nats-server runs there"
        case .noJetStream:
            advice = "the server has no JetStream for this (start nats-server with -js / `jetstream {}`, or check that the subject belongs to a stream)"
        case .permissionDenied:
            advice = "permission denied; grant this user publish/subscribe on the subject and on $JS.API.>"
        case .streamFull:
            advice = "the stream is full (its max bytes or messages, or the server's JetStream storage, is reached); raise the limit, or let its max age expire old messages (reading them does not free room); batches wait in the local spool meanwhile"
        case .timeout:
            advice = "no answer in time; the JetStream cluster may have lost quorum (fewer than a majority of replicas up) or is overloaded"
        case .clusterUnavailable:
            advice = "the JetStream cluster cannot serve this now (no leader or no quorum); it is retried"
        case .notFound:
            advice = "not found"
        case .disconnected:
            advice = "the connection is down; the client reconnects on its own"
        case .libraryMissing:
            advice = "the NATS C client library cannot be loaded; install it (Debian: apt install \(NATSLibrary.debianPackage)) and restart"
        case .other:
            advice = "unexpected failure"
        }
        return "NATS \(operation): \(advice) (\(detail))"
    }

    /// Maps a library status, a JetStream error code and the library's last error text to an error.
    static func from(status: natsStatus, code: jsErrCode = jsErrCode(0), operation: String) -> NATSError {
        // The library's last error is per thread: read it right after the failing call, on the same thread.
        let text = lastErrorText(status)
        var detail = text
        if code.rawValue != 0 { detail += " [JetStream error \(code.rawValue)]" }
        return NATSError(
            kind: classify(status: status, code: code, text: text), operation: operation, detail: detail,
            jetStreamCode: Int(code.rawValue))
    }

    /// The JetStream error of a failed publish ack.
    static func fromAck(status: natsStatus, code: jsErrCode, text: String, operation: String) -> NATSError {
        var detail = text.isEmpty ? String(cString: natsStatus_GetText(status)) : text
        if code.rawValue != 0 { detail += " [JetStream error \(code.rawValue)]" }
        return NATSError(
            kind: classify(status: status, code: code, text: text), operation: operation, detail: detail,
            jetStreamCode: Int(code.rawValue))
    }

    static func lastErrorText(_ status: natsStatus) -> String {
        var last = NATS_OK
        if let text = nats_GetLastError(&last), last == status {
            let message = String(cString: text)
            if !message.isEmpty { return message }
        }
        return String(cString: natsStatus_GetText(status))
    }

    static func classify(status: natsStatus, code: jsErrCode, text: String) -> Kind {
        let lower = text.lowercased()
        switch code.rawValue {
        case 10076, 10039: return .noJetStream  // not enabled; not enabled for account
        case 10077 where lower.contains("maximum"), 10047, 10028, 10002, 10023, 10053: return .streamFull
        case 10008, 10009, 10005, 10004: return .clusterUnavailable
        case 10059, 10014: return .notFound
        default: break
        }
        if lower.contains("permissions violation") || lower.contains("authorization") || lower.contains("permission denied") {
            return .permissionDenied
        }
        if lower.contains("maximum bytes exceeded") || lower.contains("maximum messages exceeded")
            || lower.contains("resources exceeded") || lower.contains("insufficient")
        {
            return .streamFull
        }
        switch status {
        case NATS_NO_SERVER: return .noServers
        case NATS_NO_RESPONDERS: return .noJetStream
        case NATS_NOT_PERMITTED, NATS_CONNECTION_AUTH_FAILED: return .permissionDenied
        case NATS_TIMEOUT: return .timeout
        case NATS_NOT_FOUND: return .notFound
        case NATS_CONNECTION_CLOSED, NATS_CONNECTION_DISCONNECTED, NATS_NOT_YET_CONNECTED, NATS_IO_ERROR,
             NATS_STALE_CONNECTION:
            return .disconnected
        default:
            if lower.contains("jetstream not enabled") { return .noJetStream }
            if lower.contains("server shutdown") { return .disconnected }
            if lower.contains("no suitable peers") || lower.contains("not leader") || lower.contains("temporarily unavailable")
                || lower.contains("leadership change")
            {
                return .clusterUnavailable
            }
            return .other
        }
    }
}
