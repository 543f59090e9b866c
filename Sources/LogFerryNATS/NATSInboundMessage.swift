import CNats
#if canImport(Glibc)
import Glibc
#endif

/// A message fetched from a durable pull consumer. Acknowledge it with ``NATSPullConsumer/ack(_:)`` once it is
/// processed; unacknowledged, JetStream delivers it again after the consumer's ack wait.
public struct NATSInboundMessage: Sendable {
    /// The subject it was published to.
    public var subject: String
    /// Its headers (the first value of each).
    public var headers: [String: String]
    /// Its body.
    public var payload: [UInt8]
    /// How many times it has been delivered (1 the first time; more is a redelivery).
    public var deliveryCount: UInt64
    /// Its sequence in the stream.
    public var streamSequence: UInt64
    /// Messages still waiting for this consumer after this one (the consumer's lag).
    public var pending: UInt64
    let handle: MessageHandle

    /// Whether JetStream delivered it before (its ack did not arrive in time, or the consumer restarted).
    public var isRedelivery: Bool { deliveryCount > 1 }

    /// Owns the C message until it is acknowledged and dropped.
    final class MessageHandle: @unchecked Sendable {
        /// Touched only on the connection's queue (or in deinit, when nothing else can).
        var message: OpaquePointer?

        init(_ message: OpaquePointer?) { self.message = message }

        deinit { natsMsg_Destroy(message) }
    }

    /// Copies what Swift needs out of `message`, which the returned value then owns.
    init(taking message: OpaquePointer) {
        subject = natsMsg_GetSubject(message).map { String(cString: $0) } ?? ""
        let length = Int(natsMsg_GetDataLength(message))
        if let data = natsMsg_GetData(message), length > 0 {
            payload = Array(UnsafeRawBufferPointer(start: UnsafeRawPointer(data), count: length))
        } else {
            payload = []
        }
        var headers: [String: String] = [:]
        var keys: UnsafeMutablePointer<UnsafePointer<CChar>?>?
        var count: Int32 = 0
        if natsMsgHeader_Keys(message, &keys, &count) == NATS_OK, let keys {
            for index in 0..<Int(count) {
                guard let key = keys[index] else { continue }
                var value: UnsafePointer<CChar>?
                if natsMsgHeader_Get(message, key, &value) == NATS_OK, let value {
                    headers[String(cString: key)] = String(cString: value)
                }
            }
            free(UnsafeMutableRawPointer(mutating: keys))
        }
        self.headers = headers
        var metadata: UnsafeMutablePointer<jsMsgMetaData>?
        if natsMsg_GetMetaData(&metadata, message) == NATS_OK, let metadata {
            deliveryCount = metadata.pointee.NumDelivered
            streamSequence = metadata.pointee.Sequence.Stream
            pending = metadata.pointee.NumPending
            jsMsgMetaData_Destroy(metadata)
        } else {
            deliveryCount = 1
            streamSequence = 0
            pending = 0
        }
        handle = MessageHandle(message)
    }
}
