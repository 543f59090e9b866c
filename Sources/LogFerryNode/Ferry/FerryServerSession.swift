import LogFerrySpool
import LogFerryWire
import Logging
import NIOCore
import NIOSSL
import Synchronization

/// One accepted ferry connection, from the server hello to bye: the I/O around ``ServerProtocolState``.
///
/// Two tasks share it: the reader feeds every frame to the state machine and carries out its actions
/// (checking, deduplicating by origin, writing batches to the spool); the acker waits for each batch's
/// durability in arrival order and sends the ack the state machine returns. Batches that arrive while earlier
/// ones are being fsynced join the same group commit.
final class FerryServerSession: Sendable {
    let server: FerryServer
    let inbound: NIOAsyncChannelInboundStream<Frame>
    let outbound: NIOAsyncChannelOutboundWriter<Frame>
    let peer: String
    let closeChannel: @Sendable () -> Void
    let logger: Logger
    let protocolState: Mutex<ServerProtocolState>
    /// The connection's frame size limit (small until the client has authenticated).
    let frameLimit: FrameSizeLimit?
    /// With mutual TLS, the certificate the client presented; nil without.
    let clientCertificate: (@Sendable () async -> NIOSSLCertificate?)?

    /// What the acker does, in arrival order: wait for a batch to be durable and ack it, or say bye.
    enum Ticket: Sendable {
        /// Wait for `pending` (nil: nothing to wait for), note `position` for the resume point, then ack.
        case batch(frame: BatchFrame, pending: SpoolPendingAppend?, position: UpstreamPosition?, receivedAt: ContinuousClock.Instant)
        case bye(String)
    }

    init(
        server: FerryServer,
        inbound: NIOAsyncChannelInboundStream<Frame>,
        outbound: NIOAsyncChannelOutboundWriter<Frame>,
        peer: String,
        closeChannel: @escaping @Sendable () -> Void,
        frameLimit: FrameSizeLimit? = nil,
        clientCertificate: (@Sendable () async -> NIOSSLCertificate?)? = nil,
        logger: Logger
    ) {
        self.frameLimit = frameLimit
        self.clientCertificate = clientCertificate
        self.server = server
        self.inbound = inbound
        self.outbound = outbound
        self.peer = peer
        self.closeChannel = closeChannel
        self.logger = logger
        self.protocolState = Mutex(ServerProtocolState(limits: server.configuration.limits, keys: server.configuration.keys))
    }

    func run() async throws {
        let hello = try protocolState.withLock { state throws(WireError) in try state.makeHello() }
        try await outbound.write(hello)
        // The handshake is a few hundred bytes: a peer that cannot complete it within the liveness timeout is
        // refused, however slowly it dribbles bytes (idleness alone is measured in bytes).
        let handshakeDeadline = Task { [outbound, protocolState = self, timeout = server.configuration.idleTimeout] in
            try await Task.sleep(for: timeout)
            let refusal: Frame? = protocolState.protocolState.withLock { state in
                guard state.phase == .helloSent else { return nil }
                return state.refuseSession(.protocolViolation, reason: "no client hello within \(timeout); closing")
            }
            if let refusal {
                protocolState.server.metrics.refusals(.protocolViolation).increment()
                try? await outbound.write(refusal)
                protocolState.closeChannel()
            }
        }
        defer { handshakeDeadline.cancel() }
        var frames = inbound.makeAsyncIterator()
        while true {
            guard let frame = try await nextFrame(&frames) else { return }
            switch protocolState.withLock({ $0.receive(frame) }) {
            case .none:
                continue
            case .reply(let reply):
                try await outbound.write(reply)
            case .refuseAndClose(let refusal):
                try await refuseAndClose(refusal)
                return
            case .close:
                return
            case .authenticated(let client):
                try await serve(client, frames: &frames)
                return
            case .store, .duplicate:
                // The state machine allows batches only after the welcome, which serve(_:frames:) sends.
                return
            }
        }
    }

    /// Reads the next frame; an undecodable input is refused as a protocol violation and ends the session.
    private func nextFrame(_ frames: inout NIOAsyncChannelInboundStream<Frame>.AsyncIterator) async throws -> Frame? {
        do {
            return try await frames.next()
        } catch let error as WireError {
            server.metrics.malformedFrames.increment()
            logger.warning("refusing \(peer): \(error)")
            try await refuseAndClose(protocolState.withLock { $0.undecodable(error) })
            return nil
        }
    }

    private func refuseAndClose(_ refusal: Frame) async throws {
        if case .refuse(let body) = refusal {
            server.metrics.refusals(body.code).increment()
            if body.code != .retryLater { logger.warning("refusing \(peer): \(body.reason)") }
        }
        try await outbound.write(refusal)
    }

    /// After a valid client hello: claim the sender's session slot, welcome it, then take batches.
    private func serve(_ client: ClientHello, frames: inout NIOAsyncChannelInboundStream<Frame>.AsyncIterator) async throws {
        guard let spoolID = SpoolID(bytes: client.spoolID) else { return }
        if await server.spool.isFullUnderBlock {
            try await refuseAndClose(protocolState.withLock {
                $0.refuseSession(.retryLater, reason: "the receiver's spool is full; retry later or use another upstream")
            })
            return
        }
        let registry = server.registry
        // With per-host keys the proof names the host: the spool id stays bound to the host that first used it.
        var identity = server.configuration.keys.provesHostName ? client.hostName : nil
        if let clientCertificate {
            // With mutual TLS the certificate names the host: the hello must claim one of its names.
            let vouched = await clientCertificate().flatMap(CertificateIdentity.init)
            guard let vouched, vouched.vouches(for: client.hostName) else {
                let names = vouched.map { $0.names.map { "'\($0)'" }.joined(separator: ", ") } ?? "nothing readable"
                try await refuseAndClose(protocolState.withLock {
                    $0.refuseSession(.unauthorized, reason: "the client certificate names \(names), not host '\(client.hostName)'; give this node a certificate whose CN or a DNS SAN is its --host-name")
                })
                return
            }
            identity = client.hostName
        }
        if let identity, let owner = await registry.bind(spoolID, to: identity), owner != identity {
            server.metrics.refusals(.unauthorized).increment()
            try await refuseAndClose(protocolState.withLock {
                $0.refuseSession(.unauthorized, reason: "spool \(spoolID) belongs to host '\(owner)', not '\(identity)'; a spool id cannot change hands")
            })
            return
        }
        let claimed = await registry.claim(spoolID, peer: peer, patience: .seconds(2), close: closeChannel)
        guard let token = claimed else {
            let holder = await registry.peer(of: spoolID)
            let reason = holder.map { UpstreamRegistry.address(of: $0) != UpstreamRegistry.address(of: peer) } == true
                ? "spool \(spoolID) already has a live session from \(holder ?? "another peer"); two nodes present the same spool id (a copied spool?); refusing the newer"
                : "a previous session of spool \(spoolID) is still closing; retry shortly"
            if reason.hasPrefix("spool") { logger.warning("refusing \(peer): \(reason)") }
            try await refuseAndClose(protocolState.withLock { $0.refuseSession(.retryLater, reason: reason) })
            return
        }
        do {
            try await serveBatches(from: &frames, spoolID: spoolID, host: client.hostName, identity: identity)
        } catch {
            await registry.release(spoolID, token: token)
            throw error
        }
        await registry.release(spoolID, token: token)
    }

    private func serveBatches(
        from frames: inout NIOAsyncChannelInboundStream<Frame>.AsyncIterator,
        spoolID: SpoolID,
        host: String,
        identity: String?
    ) async throws {
        let resume = await server.registry.resumePoint(for: spoolID)
        let welcome = try protocolState.withLock { state throws(WireError) in try state.welcome(resumeSequence: resume) }
        // Authenticated: batch frames up to the announced limit may come now.
        frameLimit?.set(server.configuration.limits.maxFrameBytes)
        try await outbound.write(welcome)
        logger.info("\(host) (spool \(spoolID)) connected from \(peer); it resumes after sequence \(resume)")

        let (tickets, ticketSink) = AsyncStream.makeStream(of: Ticket.self)
        // Unstructured on purpose: graceful shutdown cancels the reading task, and the acker must still
        // finish the acks of what was taken. It is always awaited before this function returns.
        let acker = Task { try await ack(tickets) }
        let heartbeats = Task { [outbound, interval = server.configuration.heartbeatInterval] in
            while !Task.isCancelled {
                try await Task.sleep(for: interval)
                try await outbound.write(.heartbeat)
            }
        }
        defer { heartbeats.cancel() }
        let outcome: Result<Void, any Error>
        do {
            try await readBatches(from: &frames, spoolID: spoolID, host: host, identity: identity, tickets: ticketSink)
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
        identity: String?,
        tickets: AsyncStream<Ticket>.Continuation
    ) async throws {
        // An authenticated client that is not a trusted relay sends only its own batches, under its own name.
        let ownBatchesOnly = identity.map { !server.configuration.trustedRelays.contains($0) } ?? false
        var decoder = BatchDecoder(limits: server.configuration.limits)
        while let frame = try await nextFrame(&frames) {
            switch protocolState.withLock({ $0.receive(frame) }) {
            case .none, .authenticated:
                continue
            case .reply(let reply):
                if case .refuse(let refusal) = reply { server.metrics.refusals(refusal.code).increment() }
                try await outbound.write(reply)
            case .refuseAndClose(let refusal):
                try await refuseAndClose(refusal)
                return
            case .close:
                return
            case .duplicate:
                // Sent twice on this connection: the ack of its sequence, still to come, covers it.
                server.metrics.duplicates.increment()
            case .store(let batch):
                // Compressed bytes held plus the inflate buffer validation needs.
                let cost = batch.batch.compressed.count + Int(batch.batch.uncompressedSize)
                guard server.budget.reserve(cost) else {
                    server.metrics.budgetRefusals.increment()
                    try await refuse(batch, .retryLater,
                        "this receiver holds \(server.budget.current) bytes of batches not yet stored, its --max-buffer-bytes is \(server.budget.limit); retry later")
                    continue
                }
                defer { server.budget.release(cost) }
                let position = UpstreamPosition(spoolID: spoolID, sequence: batch.sequence, part: batch.part, partCount: batch.partCount)
                let now = ContinuousClock.now
                let batchHost: String
                let inflated: InflatedBatch?
                do {
                    (batchHost, inflated) = try decoder.validate(
                        batch.batch, keepingBody: server.configuration.inflatedBatches != nil)
                } catch {
                    server.metrics.malformedFrames.increment()
                    logger.warning("batch \(batch.sequence) from \(host) is malformed: \(error)")
                    try await refuse(batch, .malformed, "\(error)")
                    continue
                }
                if ownBatchesOnly, batch.origin.spoolID != spoolID.bytes || batchHost != host {
                    server.metrics.refusals(.unauthorized).increment()
                    let reason = "host '\(host)' may send only its own batches (this one names host '\(batchHost)'); list it in --trusted-relays if it is a relay"
                    logger.warning("refusing \(peer): \(reason)")
                    try await outbound.write(.refuse(Refusal(sequence: 0, code: .unauthorized, reason: reason)))
                    return
                }
                guard let coverage = OriginCoverage(batch.origin, eventCount: batch.batch.eventCount) else { continue }
                let pending: SpoolPendingAppend?
                do {
                    pending = try await admit(batch, coverage: coverage, position: position, inflated: inflated, decoder: &decoder)
                } catch let error as SpoolError where error.kind == .noSpace {
                    // Our disk is full: the sender keeps the batch and retries later; other sessions go on.
                    logger.error("\(error)")
                    try await refuse(batch, .retryLater, "the receiver's disk is full; retry later")
                    continue
                } catch let error as SpoolError {
                    guard case .recordTooLarge(let bytes, let limit) = error.kind else { throw error }
                    // Larger than this node's spool can ever hold: the sender cuts it into more parts.
                    try await refuse(batch, .tooLarge,
                        "a record of \(bytes) bytes does not fit this node's spool (at most \(limit)); cut it smaller")
                    continue
                }
                tickets.yield(.batch(frame: batch, pending: pending, position: position, receivedAt: now))
            }
        }
    }

    /// Stores what of `batch` this node does not hold yet, deduplicating by origin across every session.
    /// Returns the write to wait for before acknowledging (a copy of something still being written waits
    /// for that write), or nil when everything it covers is already durable.
    private func admit(
        _ batch: BatchFrame, coverage: OriginCoverage, position: UpstreamPosition, inflated: InflatedBatch?,
        decoder: inout BatchDecoder
    ) async throws -> SpoolPendingAppend? {
        let registry = server.registry
        let spool = server.spool
        let metrics = server.metrics
        await registry.beginAdmission()
        do {
            let pending: SpoolPendingAppend?
            switch await registry.missing(coverage) {
            case .nothing:
                metrics.duplicates.increment()
                pending = await registry.lastPending
            case .everything:
                let metadata = RecordMetadata(upstream: position, origin: coverage).encoded()
                let written = try await spool.enqueue(batch.batch.serialized(), metadata: metadata)
                await registry.held([coverage], pending: written)
                if let inflated, case .stored(let sequence) = written.result {
                    server.configuration.inflatedBatches?.put(inflated, sequence: sequence)
                }
                metrics.batchesIn.increment()
                metrics.eventsIn.increment(by: Int64(batch.batch.eventCount))
                metrics.bytesIn.increment(by: Int64(batch.batch.compressed.count))
                pending = written
            case .some(let pieces):
                // Part of it came another way (two relays cut or merged differently): store only the rest.
                metrics.trimmedBatches.increment()
                let parts = try OriginTrimmer.trim(batch.batch, coverage: coverage, keeping: pieces, decoder: &decoder)
                var last: SpoolPendingAppend?
                for (index, part) in parts.enumerated() {
                    let isLast = index == parts.count - 1
                    let metadata = RecordMetadata(upstream: isLast ? position : nil, origin: part.coverage).encoded()
                    last = try await spool.enqueue(part.sealed.serialized(), metadata: metadata)
                    await registry.held([part.coverage], pending: last)
                    metrics.eventsIn.increment(by: Int64(part.sealed.eventCount))
                }
                metrics.batchesIn.increment()
                pending = last
            }
            await registry.endAdmission()
            return pending
        } catch {
            await registry.endAdmission()
            throw error
        }
    }

    /// Waits for each ticket's durability in order, notes the resume point, and sends the ack the state
    /// machine gives. Every ticket is recorded even when the peer is gone, so the resume point never lags
    /// what the spool holds.
    private func ack(_ tickets: AsyncStream<Ticket>) async throws {
        let registry = server.registry
        let metrics = server.metrics
        let spool = server.spool
        var peerGone = false
        for await ticket in tickets {
            switch ticket {
            case .batch(let frame, let pending, let position, let receivedAt):
                if let pending {
                    _ = try await spool.waitUntilDurable(pending)
                }
                if let position { await registry.record(position) }
                guard let ack = protocolState.withLock({ $0.stored(frame) }), !peerGone else { continue }
                do {
                    try await outbound.write(ack)
                    metrics.ackLatency.recordNanoseconds(Int64((ContinuousClock.now - receivedAt).nanoseconds))
                } catch {
                    peerGone = true
                }
            case .bye(let reason):
                if !peerGone { try? await outbound.write(.bye(reason)) }
            }
        }
    }

    private func refuse(_ batch: BatchFrame, _ code: RefusalCode, _ reason: String) async throws {
        server.metrics.refusals(code).increment()
        try await outbound.write(protocolState.withLock { $0.refused(batch, code: code, reason: reason) })
    }
}

extension Duration {
    /// The duration in whole nanoseconds (saturating).
    var nanoseconds: Int {
        let (seconds, attoseconds) = components
        return Int(seconds) &* 1_000_000_000 &+ Int(attoseconds / 1_000_000_000)
    }
}
