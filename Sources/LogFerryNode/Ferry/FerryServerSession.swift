import LogFerrySpool
import LogFerryWire
import Logging
import NIOCore
import ServiceLifecycle

/// One accepted ferry connection, from the server hello to bye.
///
/// Two tasks share it: the reader takes frames, stores batches and queues an ack ticket for each; the
/// acker waits for each ticket's durability in order and sends the cumulative ack. Batches that arrive
/// while earlier ones are being fsynced join the same group commit.
struct FerryServerSession {
    let server: FerryServer
    let inbound: NIOAsyncChannelInboundStream<Frame>
    let outbound: NIOAsyncChannelOutboundWriter<Frame>
    let closeChannel: @Sendable () -> Void
    let logger: Logger

    /// What the acker does, in arrival order: wait for a batch part to be durable and ack it, or say bye.
    enum Ticket: Sendable {
        case batch(pending: SpoolPendingAppend?, position: UpstreamPosition, receivedAt: ContinuousClock.Instant)
        case bye(String)
    }

    init(
        server: FerryServer,
        inbound: NIOAsyncChannelInboundStream<Frame>,
        outbound: NIOAsyncChannelOutboundWriter<Frame>,
        closeChannel: @escaping @Sendable () -> Void,
        logger: Logger
    ) {
        self.server = server
        self.inbound = inbound
        self.outbound = outbound
        self.closeChannel = closeChannel
        self.logger = logger
    }

    func run() async throws {
        let configuration = server.configuration
        var nonce = [UInt8](repeating: 0, count: 32)
        var rng = SystemRandomNumberGenerator()
        for i in nonce.indices { nonce[i] = rng.next() }
        try await outbound.write(.serverHello(ServerHello(
            versionMin: ProtocolVersion.supported.lowerBound,
            versionMax: ProtocolVersion.supported.upperBound,
            nonce: nonce,
            limits: configuration.limits
        )))

        var frames = inbound.makeAsyncIterator()
        guard let first = try await frames.next() else { return }
        guard case .clientHello(let hello) = first else {
            try await refuse(.malformed, sequence: 0, "expected a client hello first, got \(first.kind)")
            return
        }
        guard ProtocolVersion.supported.contains(hello.version) else {
            try await refuse(.unsupportedVersion, sequence: 0,
                "protocol version \(hello.version) is not supported; this node speaks \(ProtocolVersion.supported.lowerBound)...\(ProtocolVersion.supported.upperBound)")
            return
        }
        if let key = configuration.key {
            guard HandshakeAuth.verify(proof: hello.proof, key: key, nonce: nonce, spoolID: hello.spoolID, hostName: hello.hostName) else {
                logger.warning("refusing \(hello.hostName): wrong or missing shared key proof")
                try await refuse(.unauthorized, sequence: 0, "the shared key proof does not match; check --key-file on both ends")
                return
            }
        }
        guard let spoolID = SpoolID(bytes: hello.spoolID) else {
            try await refuse(.malformed, sequence: 0, "a spool id has 16 bytes, got \(hello.spoolID.count)")
            return
        }

        let registry = server.registry
        let token = await registry.claim(spoolID, close: closeChannel)
        do {
            try await serveBatches(from: &frames, spoolID: spoolID, host: hello.hostName)
        } catch {
            await registry.release(spoolID, token: token)
            throw error
        }
        await registry.release(spoolID, token: token)
    }

    private func serveBatches(
        from frames: inout NIOAsyncChannelInboundStream<Frame>.AsyncIterator,
        spoolID: SpoolID,
        host: String
    ) async throws {
        let registry = server.registry
        let resume = await registry.resumePoint(for: spoolID)
        try await outbound.write(.welcome(Welcome(resumeSequence: resume.sequence, resumePart: resume.part)))
        logger.info("\(host) (spool \(spoolID)) connected; resuming after sequence \(resume.sequence)")

        let (tickets, ticketSink) = AsyncStream.makeStream(of: Ticket.self)
        // Unstructured on purpose: graceful shutdown cancels the reading task, and the acker must still
        // finish the acks of what was taken. It is always awaited before this function returns.
        let acker = Task { try await ack(tickets) }
        let outcome: Result<Void, any Error>
        do {
            try await readBatches(from: &frames, spoolID: spoolID, host: host, tickets: ticketSink)
            outcome = .success(())
        } catch is CancellationError {
            ticketSink.yield(.bye("node is shutting down; reconnect to another upstream or retry later"))
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        ticketSink.finish()
        try await acker.value
        try outcome.get()
    }

    private func readBatches(
        from frames: inout NIOAsyncChannelInboundStream<Frame>.AsyncIterator,
        spoolID: SpoolID,
        host: String,
        tickets: AsyncStream<Ticket>.Continuation
    ) async throws {
        let registry = server.registry
        let limits = server.configuration.limits
        let spool = server.spool
        let metrics = server.metrics
        var decoder = BatchDecoder(limits: limits)
        while let frame = try await frames.next() {
            switch frame {
            case .batch(let batch):
                let position = UpstreamPosition(spoolID: spoolID, sequence: batch.sequence, part: batch.part, partCount: batch.partCount)
                let now = ContinuousClock.now
                if await registry.contains(spoolID, sequence: batch.sequence, part: batch.part) {
                    metrics.duplicates.increment()
                    tickets.yield(.batch(pending: nil, position: position, receivedAt: now))
                    continue
                }
                if batch.batch.eventCount > limits.maxEventsPerBatch || batch.batch.uncompressedSize > limits.maxUncompressedBytes {
                    try await refuse(.tooLarge, sequence: batch.sequence,
                        "batch of \(batch.batch.eventCount) events / \(batch.batch.uncompressedSize) bytes exceeds the announced limits; split it")
                    // Stop here: storing later batches would move the resume point past the refused one.
                    return
                }
                do {
                    try decoder.validate(batch.batch)
                } catch {
                    metrics.malformedFrames.increment()
                    logger.warning("batch \(batch.sequence) from \(host) is malformed: \(error)")
                    try await refuse(.malformed, sequence: batch.sequence, "\(error)")
                    continue
                }
                let metadata = RecordMetadata(upstream: position).encoded()
                let pending: SpoolPendingAppend
                do {
                    pending = try await spool.enqueue(batch.batch.serialized(), metadata: metadata)
                } catch let error as SpoolError where error.kind == .noSpace {
                    // Our disk is full: the sender keeps the batch and retries later; other sessions go on.
                    logger.error("\(error)")
                    try await refuse(.retryLater, sequence: batch.sequence, "the receiver's disk is full; retry later")
                    return
                }
                metrics.batchesIn.increment()
                metrics.eventsIn.increment(by: Int64(batch.batch.eventCount))
                metrics.bytesIn.increment(by: Int64(batch.batch.compressed.count))
                tickets.yield(.batch(pending: pending, position: position, receivedAt: now))
            case .heartbeat:
                try await outbound.write(.heartbeat)
            case .bye:
                return
            default:
                try await refuse(.malformed, sequence: 0, "a \(frame.kind) frame is not legal after the handshake")
                return
            }
        }
    }

    /// Waits for each ticket's durability in order, records it, and sends the cumulative ack. Every ticket is
    /// recorded even when the peer is gone, so the resume point never lags what the spool holds.
    private func ack(_ tickets: AsyncStream<Ticket>) async throws {
        let registry = server.registry
        let metrics = server.metrics
        let spool = server.spool
        var peerGone = false
        for await ticket in tickets {
            switch ticket {
            case .batch(let pending, let position, let receivedAt):
                if let pending {
                    _ = try await spool.waitUntilDurable(pending)
                }
                await registry.record(position)
                guard position.completesBatch, !peerGone else { continue }
                do {
                    try await outbound.write(.ack(position.sequence))
                    metrics.ackLatency.recordNanoseconds(Int64((ContinuousClock.now - receivedAt).nanoseconds))
                } catch {
                    peerGone = true
                }
            case .bye(let reason):
                if !peerGone { try? await outbound.write(.bye(reason)) }
            }
        }
    }

    private func refuse(_ code: RefusalCode, sequence: UInt64, _ reason: String) async throws {
        server.metrics.refusals(code).increment()
        try await outbound.write(.refuse(Refusal(sequence: sequence, code: code, reason: reason)))
    }
}

extension Duration {
    /// The duration in whole nanoseconds (saturating).
    var nanoseconds: Int {
        let (seconds, attoseconds) = components
        return Int(seconds) &* 1_000_000_000 &+ Int(attoseconds / 1_000_000_000)
    }
}
