import CNats
import Logging
import Synchronization

/// What the C client calls back into from its own threads: connection events (logged), reconnect delays
/// (backoff with full jitter), and publish acks (collected for the publish call waiting for them).
///
/// The C client holds it through an unretained pointer for the life of the connection; the connection keeps
/// it alive with one extra retain that the closed callback, the last one the client makes, gives back.
final class NATSCallbacks: Sendable {
    let logger: Logger
    let servers: String
    let reconnectBase: Duration
    let reconnectCap: Duration
    private let acks = Mutex(PublishOutcome())
    /// Set when this process closes the connection: the disconnection that follows is not news.
    let closing = Atomic<Bool>(false)

    /// What came back for the messages of one publish call.
    struct PublishOutcome: Sendable {
        /// Messages stored.
        var stored = 0
        /// Messages the stream recognised as duplicates (its duplicate window held their id).
        var duplicates = 0
        /// The stream sequence of the last message stored.
        var lastSequence: UInt64 = 0
        /// The first failure.
        var failure: NATSError?
    }

    init(logger: Logger, servers: String, reconnectBase: Duration, reconnectCap: Duration) {
        self.logger = logger
        self.servers = natsRedacted(servers)
        self.reconnectBase = reconnectBase
        self.reconnectCap = reconnectCap
    }

    /// Forgets the outcome of an earlier publish call.
    func beginPublish() {
        acks.withLock { $0 = PublishOutcome() }
    }

    /// The outcome collected since ``beginPublish()``.
    func endPublish() -> PublishOutcome {
        acks.withLock { $0 }
    }

    func acknowledged(sequence: UInt64, duplicate: Bool) {
        acks.withLock { outcome in
            if duplicate { outcome.duplicates += 1 } else { outcome.stored += 1 }
            outcome.lastSequence = max(outcome.lastSequence, sequence)
        }
    }

    func failed(_ error: NATSError) {
        acks.withLock { outcome in
            if outcome.failure == nil { outcome.failure = error }
        }
    }

    /// The delay before reconnect attempt `attempts` (1-based): uniform in [0, min(cap, base * 2^(attempts-1))].
    func reconnectDelay(attempts: Int) -> Int64 {
        let base = reconnectBase.natsMilliseconds
        let cap = reconnectCap.natsMilliseconds
        let shift = min(max(attempts - 1, 0), 30)
        let ceiling = min(cap, base << Int64(shift))
        return Int64.random(in: 0...max(ceiling, 1))
    }

    /// The pointer handed to the C client.
    var pointer: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    static func from(_ pointer: UnsafeMutableRawPointer?) -> NATSCallbacks? {
        guard let pointer else { return nil }
        return Unmanaged<NATSCallbacks>.fromOpaque(pointer).takeUnretainedValue()
    }
}

/// The server a connection is on now, for log lines.
func natsConnectedURL(_ connection: OpaquePointer?) -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    guard let connection, natsConnection_GetConnectedUrl(connection, &buffer, buffer.count) == NATS_OK else { return "?" }
    return natsRedacted(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
}

/// `urls` (comma-separated) with any `user:password@` replaced by `***@`, for logs and errors.
func natsRedacted(_ urls: String) -> String {
    urls.split(separator: ",", omittingEmptySubsequences: false).map { url -> String in
        guard let at = url.lastIndex(of: "@") else { return String(url) }
        let scheme = url.firstRange(of: "://").map { url[..<$0.upperBound] } ?? ""
        return scheme + "***" + url[at...]
    }.joined(separator: ",")
}

func natsDisconnectedCallback(_ connection: OpaquePointer?, _ closure: UnsafeMutableRawPointer?) {
    guard let callbacks = NATSCallbacks.from(closure), !callbacks.closing.load(ordering: .relaxed) else { return }
    callbacks.logger.warning("NATS connection lost; reconnecting to one of \(callbacks.servers) with backoff and jitter")
}

func natsReconnectedCallback(_ connection: OpaquePointer?, _ closure: UnsafeMutableRawPointer?) {
    guard let callbacks = NATSCallbacks.from(closure) else { return }
    callbacks.logger.info("NATS connection restored to \(natsConnectedURL(connection))")
}

func natsClosedCallback(_ connection: OpaquePointer?, _ closure: UnsafeMutableRawPointer?) {
    guard let closure else { return }
    // The last callback of a connection: give back the retain taken when it was made.
    Unmanaged<NATSCallbacks>.fromOpaque(closure).release()
}

func natsAsyncErrorCallback(
    _ connection: OpaquePointer?, _ subscription: OpaquePointer?, _ status: natsStatus, _ closure: UnsafeMutableRawPointer?
) {
    guard let callbacks = NATSCallbacks.from(closure) else { return }
    callbacks.logger.warning("NATS asynchronous error: \(String(cString: natsStatus_GetText(status)))")
}

func natsReconnectDelayCallback(_ connection: OpaquePointer?, _ attempts: Int32, _ closure: UnsafeMutableRawPointer?) -> Int64 {
    guard let callbacks = NATSCallbacks.from(closure) else { return 1000 }
    return callbacks.reconnectDelay(attempts: Int(attempts))
}

func natsPublishAckCallback(
    _ context: OpaquePointer?, _ message: OpaquePointer?, _ ack: UnsafeMutablePointer<jsPubAck>?,
    _ failure: UnsafeMutablePointer<jsPubAckErr>?, _ closure: UnsafeMutableRawPointer?
) {
    defer { natsMsg_Destroy(message) }
    guard let callbacks = NATSCallbacks.from(closure) else { return }
    if let ack {
        callbacks.acknowledged(sequence: ack.pointee.Sequence, duplicate: ack.pointee.Duplicate)
    } else if let failure {
        let subject = message.flatMap { natsMsg_GetSubject($0) }.map { String(cString: $0) } ?? "?"
        let text = failure.pointee.ErrText.map { String(cString: $0) } ?? ""
        callbacks.failed(NATSError.fromAck(
            status: failure.pointee.Err, code: failure.pointee.ErrCode, text: text, operation: "publish to \(subject)"))
    }
}
