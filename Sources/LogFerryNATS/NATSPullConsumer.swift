import CNats

/// How a durable pull consumer is made when it does not exist yet.
public struct NATSConsumerConfiguration: Sendable, Equatable {
    /// The stream it reads.
    public var stream: String
    /// Its durable name: a restarted reader with the same name continues where the last one acknowledged.
    public var durable: String
    /// The subjects it reads (`logs.*`).
    public var filterSubject: String
    /// How long a fetched message may stay unacknowledged before it is delivered again.
    public var ackWait: Duration
    /// How many messages may be fetched and not yet acknowledged.
    public var maxAckPending: Int

    /// Creates a configuration.
    public init(stream: String, durable: String, filterSubject: String, ackWait: Duration = .seconds(10), maxAckPending: Int = 1024) {
        self.stream = stream
        self.durable = durable
        self.filterSubject = filterSubject
        self.ackWait = ackWait
        self.maxAckPending = maxAckPending
    }
}

/// A durable pull consumer of one stream: fetch messages, acknowledge each once it is processed.
public final class NATSPullConsumer: Sendable {
    let connection: NATSConnection
    let subscription: Subscription
    /// What it reads.
    public let configuration: NATSConsumerConfiguration

    /// The C subscription; touched only on the connection's queue.
    final class Subscription: @unchecked Sendable {
        var pointer: OpaquePointer?
        init(_ pointer: OpaquePointer?) { self.pointer = pointer }
    }

    init(connection: NATSConnection, subscription: OpaquePointer, configuration: NATSConsumerConfiguration) {
        self.connection = connection
        self.subscription = Subscription(subscription)
        self.configuration = configuration
    }

    /// A consumer dropped without ``close()`` ends its subscription on the connection's queue.
    deinit {
        let subscription = self.subscription
        connection.queue.async {
            if let pointer = subscription.pointer { natsSubscription_Destroy(pointer) }
            subscription.pointer = nil
        }
    }

    /// Up to `max` messages, waiting up to `timeout` for the first; an empty array when none came.
    public func fetch(max: Int, timeout: Duration) async throws -> [NATSInboundMessage] {
        let operation = "fetch from consumer \(configuration.durable) of stream \(configuration.stream)"
        return try await connection.perform(operation) { [subscription] _, _ in
            guard let pointer = subscription.pointer else {
                throw NATSError(kind: .disconnected, operation: operation, detail: "the consumer was closed")
            }
            var list = natsMsgList()
            var code = jsErrCode(0)
            let status = natsSubscription_Fetch(&list, pointer, Int32(max), timeout.natsMilliseconds, &code)
            defer { natsMsgList_Destroy(&list) }
            if status == NATS_TIMEOUT { return [] }
            guard status == NATS_OK else { throw NATSError.from(status: status, code: code, operation: operation) }
            var messages: [NATSInboundMessage] = []
            for index in 0..<Int(list.Count) {
                guard let message = list.Msgs[index] else { continue }
                // Ours now: the list's destroy skips it.
                list.Msgs[index] = nil
                messages.append(NATSInboundMessage(taking: message))
            }
            return messages
        }
    }

    /// Acknowledges `message`: JetStream will not deliver it again to this consumer.
    public func ack(_ message: NATSInboundMessage) async throws {
        let operation = "acknowledge message \(message.streamSequence) of stream \(configuration.stream)"
        try await connection.perform(operation) { _, _ in
            guard let handle = message.handle.message else { return }
            try check(natsMsg_Ack(handle, nil), operation)
        }
    }

    /// Tells JetStream never to deliver `message` again (it cannot be processed, e.g. not a LogFerry batch).
    public func terminate(_ message: NATSInboundMessage) async throws {
        let operation = "terminate message \(message.streamSequence) of stream \(configuration.stream)"
        try await connection.perform(operation) { _, _ in
            guard let handle = message.handle.message else { return }
            try check(natsMsg_Term(handle, nil), operation)
        }
    }

    /// Flushes the acknowledgements sent so far to the server, waiting up to `timeout`.
    public func flush(timeout: Duration) async throws {
        try await connection.perform("flush acknowledgements") { connection, _ in
            try check(natsConnection_FlushTimeout(connection, timeout.natsMilliseconds), "flush acknowledgements")
        }
    }

    /// Ends the subscription; the durable consumer stays on the server for the next reader.
    public func close() async {
        _ = try? await connection.perform("close consumer") { [subscription] _, _ in
            if let pointer = subscription.pointer { natsSubscription_Destroy(pointer) }
            subscription.pointer = nil
        }
    }
}

extension NATSConnection {
    /// Binds to the durable pull consumer `configuration.durable` of the stream, creating it when missing.
    public func pullConsumer(_ configuration: NATSConsumerConfiguration) async throws -> NATSPullConsumer {
        let operation = "bind consumer \(configuration.durable) of stream \(configuration.stream)"
        let subscription = try await perform(operation) { _, jetStream -> NATSPullConsumer.Subscription in
            var options = jsSubOptions()
            jsSubOptions_Init(&options)
            var subscription: OpaquePointer?
            var code = jsErrCode(0)
            let status = configuration.stream.withCString { stream in
                options.Stream = stream
                options.Config.AckPolicy = js_AckExplicit
                options.Config.AckWait = configuration.ackWait.natsNanoseconds
                options.Config.MaxAckPending = Int64(configuration.maxAckPending)
                options.Config.MaxDeliver = -1
                return js_PullSubscribe(&subscription, jetStream, configuration.filterSubject, configuration.durable, nil, &options, &code)
            }
            guard status == NATS_OK, let subscription else { throw NATSError.from(status: status, code: code, operation: operation) }
            return NATSPullConsumer.Subscription(subscription)
        }
        guard let pointer = subscription.pointer else {
            throw NATSError(kind: .other, operation: operation, detail: "no subscription")
        }
        return NATSPullConsumer(connection: self, subscription: pointer, configuration: configuration)
    }
}
