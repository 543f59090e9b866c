import CNats

extension NATSConnection {
    /// The header that carries the message id JetStream deduplicates by.
    public static let messageIDHeader = "Nats-Msg-Id"

    /// Publishes `messages` in order and returns once JetStream acknowledged every one of them (stored on a
    /// majority of the stream's replicas, or recognised as a duplicate by its id).
    ///
    /// The messages go out back to back without waiting for each ack (JetStream's asynchronous publish), then the
    /// call waits for all acks up to `timeout`. If any is refused or missing, the call throws; the caller publishes
    /// the same messages again later, and their ids make the resend harmless.
    public func publish(_ messages: [NATSOutboundMessage], timeout: Duration) async throws -> NATSPublishResult {
        guard !messages.isEmpty else { return NATSPublishResult(stored: 0, duplicates: 0, lastSequence: 0) }
        let operation = "publish to \(messages[0].subject)"
        return try await perform(operation) { [callbacks] _, jetStream in
            callbacks.beginPublish()
            var options = jsPubOptions()
            jsPubOptions_Init(&options)
            options.MaxWait = timeout.natsMilliseconds
            for message in messages {
                var handle: OpaquePointer?
                var status = message.payload.withUnsafeBytes { bytes in
                    natsMsg_Create(
                        &handle, message.subject, nil, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(bytes.count))
                }
                if status == NATS_OK { status = natsMsgHeader_Set(handle, Self.messageIDHeader, message.id) }
                for header in message.headers where status == NATS_OK {
                    status = natsMsgHeader_Set(handle, header.name, header.value)
                }
                if status == NATS_OK { status = js_PublishMsgAsync(jetStream, &handle, &options) }
                // A no-op when the library took the message.
                natsMsg_Destroy(handle)
                guard status == NATS_OK else {
                    let error = NATSError.from(status: status, operation: "publish to \(message.subject)")
                    Self.abandonPending(jetStream)
                    throw Self.publishing(error)
                }
            }
            let status = js_PublishAsyncComplete(jetStream, &options)
            if status != NATS_OK {
                let error = NATSError.from(status: status, operation: operation)
                Self.abandonPending(jetStream)
                throw NATSError(
                    kind: error.kind, operation: operation,
                    detail: "not every message was acknowledged within \(timeout): \(error.detail)")
            }
            let outcome = callbacks.endPublish()
            if let failure = outcome.failure { throw Self.publishing(failure) }
            return NATSPublishResult(stored: outcome.stored, duplicates: outcome.duplicates, lastSequence: outcome.lastSequence)
        }
    }

    /// A publish answered "no responders" reached JetStream before (the stream was checked), so no server takes
    /// the subject right now: the stream has no leader (a server was lost and a leader is being elected, or the
    /// cluster lost quorum), or the stream does not take this subject. Transient in the first case.
    static func publishing(_ error: NATSError) -> NATSError {
        guard error.kind == .noJetStream else { return error }
        var mapped = error
        mapped.kind = .clusterUnavailable
        mapped.detail = "no responder for the subject: the stream has no leader right now (a server was lost and a leader is being elected, or quorum is lost), or the stream does not take this subject; \(error.detail)"
        return mapped
    }

    /// Drops the messages still waiting for an ack: their late acks are ignored, and the caller resends them.
    static func abandonPending(_ jetStream: OpaquePointer) {
        var pending = natsMsgList()
        if js_PublishAsyncGetPendingList(&pending, jetStream) == NATS_OK {
            natsMsgList_Destroy(&pending)
        }
    }
}
