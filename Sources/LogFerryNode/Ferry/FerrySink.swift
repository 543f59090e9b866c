import Foundation
import LogFerrySpool
import LogFerryWire
import Logging
import Metrics
import NIOCore
import NIOPosix
import NIOSSL

/// The ferry sink: ships the spool to the next hop, a window of batches in flight, and moves its cursor as
/// cumulative acks come back.
///
/// It resumes from the server's resume point, so a reconnect neither loses nor duplicates; it reconnects
/// with backoff and full jitter, fails over across upstreams, and abandons a peer that heartbeats but makes
/// no progress. A relay forwards stored batches as they are: the bytes compressed at the edge cross every hop.
public final class FerrySink: Sendable {
    let configuration: FerrySinkConfiguration
    let spool: Spool
    let logger: Logger
    let metrics: FerrySinkMetrics
    let progress: FerrySinkProgress

    /// Creates a sink over `spool`; `run()` ships until cancelled or graceful shutdown.
    public init(configuration: FerrySinkConfiguration, spool: Spool, logger: Logger) {
        self.configuration = configuration
        self.spool = spool
        self.logger = logger
        self.metrics = FerrySinkMetrics()
        self.progress = FerrySinkProgress()
    }

    /// The highest local sequence the next hop has durably taken.
    public var acknowledged: UInt64 {
        get async { await progress.acknowledged }
    }

    /// Waits until everything up to `sequence` is acknowledged downstream.
    public func waitUntilAcknowledged(through sequence: UInt64) async {
        await progress.waitUntil(sequence)
    }

    /// Ships until cancelled, reconnecting with backoff and failing over across upstreams.
    public func run() async throws {
        let start = try await spool.cursor(named: configuration.cursorName)
        await progress.advance(to: start.committed)
        var backoff = configuration.backoff
        var index = 0
        while !Task.isCancelled {
            let upstream = configuration.upstreams[index % configuration.upstreams.count]
            let started = ContinuousClock.now
            var slow = false
            do {
                try await ship(to: upstream)
                logger.info("upstream \(upstream) closed the connection")
            } catch is CancellationError {
                break
            } catch let error as FerrySinkError {
                slow = error.isConfigurationProblem
                logger.warning("\(error)")
            } catch {
                if Task.isCancelled { break }
                logger.warning("upstream \(upstream): \(error)")
            }
            if Task.isCancelled { break }
            metrics.reconnects.increment()
            let healthy = ContinuousClock.now - started >= backoff.resetAfter
            if healthy { backoff.reset() }
            if configuration.selection == .roundRobin || !healthy { index += 1 }
            var delay = backoff.next()
            if slow { delay = max(delay, backoff.cap) }
            logger.debug("reconnecting in \(delay)")
            do {
                try await Task.sleep(for: delay)
            } catch {
                break
            }
        }
        // Cancelled: keep the acks that arrived since the last lazy commit.
        let acknowledged = await progress.acknowledged
        if acknowledged > start.committed {
            try await spool.commit(cursor: configuration.cursorName, through: acknowledged)
        }
    }

    /// One connection: handshake, then send from the resume point while reading acks, until it fails.
    func ship(to upstream: Upstream) async throws {
        let channel = try await connect(to: upstream)
        try await channel.executeThenClose { inbound, outbound in
            var frames = inbound.makeAsyncIterator()
            guard let first = try await frames.next() else { throw FerrySinkError.closedDuringHandshake(upstream) }
            guard case .serverHello(let hello) = first else {
                throw FerrySinkError.protocolViolation(upstream, "expected a server hello, got \(first.kind)")
            }
            let version = min(ProtocolVersion.current, hello.versionMax)
            guard version >= hello.versionMin, ProtocolVersion.supported.contains(version) else {
                throw FerrySinkError.refused(upstream, .unsupportedVersion,
                    "it speaks versions \(hello.versionMin)...\(hello.versionMax), we speak \(ProtocolVersion.supported)")
            }
            let proof = configuration.key.map {
                HandshakeAuth.proof(key: $0, nonce: hello.nonce, spoolID: spool.id.bytes, hostName: configuration.hostName)
            } ?? []
            try await outbound.write(.clientHello(ClientHello(
                version: version, spoolID: spool.id.bytes, hostName: configuration.hostName, proof: proof
            )))
            guard let answer = try await frames.next() else { throw FerrySinkError.closedDuringHandshake(upstream) }
            let welcome: Welcome
            switch answer {
            case .welcome(let w):
                welcome = w
            case .refuse(let refusal):
                metrics.refusals(refusal.code).increment()
                throw FerrySinkError.refused(upstream, refusal.code, refusal.reason)
            default:
                throw FerrySinkError.protocolViolation(upstream, "expected welcome, got \(answer.kind)")
            }
            logger.info("connected to \(upstream); it has everything up to sequence \(welcome.resumeSequence)")
            metrics.connected.increment()

            let committed = await progress.acknowledged
            if welcome.resumeSequence > committed {
                await progress.advance(to: welcome.resumeSequence)
                try await spool.commit(cursor: configuration.cursorName, through: welcome.resumeSequence)
            }
            let window = FerryWindow(
                capacity: min(configuration.window, Int(hello.limits.maxWindow)),
                commitPoint: welcome.resumeSequence
            )
            let limits = hello.limits
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await self.send(from: welcome, window: window, limits: limits, outbound: outbound, upstream: upstream)
                }
                group.addTask {
                    try await self.heartbeat(outbound: outbound, window: window, upstream: upstream)
                }
                defer { group.cancelAll() }
                try await self.receive(&frames, window: window, upstream: upstream)
                group.cancelAll()
            }
        }
    }

    /// Sends batches from the resume point as the window allows.
    private func send(
        from welcome: Welcome,
        window: FerryWindow,
        limits: WireLimits,
        outbound: NIOAsyncChannelOutboundWriter<Frame>,
        upstream: Upstream
    ) async throws {
        let reader = spool.makeReader(from: welcome.resumeSequence + 1)
        var splitter = BatchSplitter(limits: limits)
        var rebatcher = configuration.rebatch ? Rebatcher(limits: limits) : nil
        var carried: SpoolRecord?
        while true {
            try await window.waitForSpace()
            let next: SpoolRecord?
            if let held = carried {
                next = held
                carried = nil
            } else {
                next = try await reader.next()
            }
            guard let record = next else { return }
            var sealed: SealedBatch
            do {
                sealed = try SealedBatch(serialized: record.payload)
            } catch {
                quarantine(record, reason: "unreadable in the local spool: \(error)")
                await window.resolved(record.sequence)
                continue
            }
            var sequence = record.sequence
            if var merger = rebatcher, record.sequence != welcome.resumeSequence + 1 || welcome.resumePart == 0 {
                // Merge what is already waiting behind this record; stop at the first that does not fit.
                merger.start(record, sealed)
                while let following = try await reader.nextIfAvailable() {
                    guard let followingSealed = try? SealedBatch(serialized: following.payload),
                        (try? merger.absorb(following, followingSealed)) == true
                    else {
                        carried = following
                        break
                    }
                }
                sequence = merger.lastSequence
                sealed = try merger.seal()
                rebatcher = merger
            }
            let skipParts = sequence == welcome.resumeSequence + 1 ? Int(welcome.resumePart) : 0
            let frames: [BatchFrame]
            do {
                let minimumParts = await progress.minimumParts(for: sequence)
                frames = try splitter.frames(for: sealed, sequence: sequence, minimumParts: minimumParts)
            } catch {
                quarantine(SpoolRecord(sequence: sequence, metadata: [], payload: sealed.serialized()),
                           reason: "cannot be split to the upstream's limits: \(error)")
                await window.resolved(sequence)
                continue
            }
            await window.sent(sequence)
            for frame in frames.dropFirst(skipParts) {
                try await outbound.write(.batch(frame))
                metrics.batchesOut.increment()
                metrics.bytesOut.increment(by: Int64(frame.batch.compressed.count))
                metrics.eventsOut.increment(by: Int64(frame.batch.eventCount))
            }
        }
    }

    /// Heartbeats while the connection lives, and abandons a peer that makes no progress.
    private func heartbeat(outbound: NIOAsyncChannelOutboundWriter<Frame>, window: FerryWindow, upstream: Upstream) async throws {
        while true {
            try await Task.sleep(for: configuration.heartbeatInterval)
            if await window.isStalled(after: configuration.progressTimeout) {
                metrics.stalls.increment()
                throw FerrySinkError.stalled(upstream, configuration.progressTimeout)
            }
            try await outbound.write(.heartbeat)
        }
    }

    /// Reads acks, refusals and heartbeats until the connection ends.
    private func receive(
        _ frames: inout NIOAsyncChannelInboundStream<Frame>.AsyncIterator,
        window: FerryWindow,
        upstream: Upstream
    ) async throws {
        var lastCommit = ContinuousClock.now
        var committed = await window.commitPoint
        defer { _ = committed }
        while let frame = try await frames.next() {
            switch frame {
            case .ack(let sequence):
                await window.acked(through: sequence)
            case .refuse(let refusal):
                metrics.refusals(refusal.code).increment()
                switch refusal.code {
                case .malformed where refusal.sequence != 0:
                    logger.error("upstream \(upstream) refused batch \(refusal.sequence) as malformed (\(refusal.reason)); quarantining it and moving on")
                    let reader = spool.makeReader(from: refusal.sequence)
                    if let record = try await reader.nextIfAvailable(), record.sequence == refusal.sequence {
                        quarantine(record, reason: refusal.reason)
                    }
                    await window.resolved(refusal.sequence)
                case .tooLarge where refusal.sequence != 0:
                    // The receiver stops taking batches after this refusal; the next connection resends
                    // the batch cut into more parts.
                    await progress.requireMoreParts(for: refusal.sequence)
                    throw FerrySinkError.refused(upstream, refusal.code, refusal.reason)
                default:
                    throw FerrySinkError.refused(upstream, refusal.code, refusal.reason)
                }
            case .heartbeat:
                break
            case .bye(let reason):
                throw FerrySinkError.goingAway(upstream, reason)
            default:
                throw FerrySinkError.protocolViolation(upstream, "unexpected \(frame.kind) frame")
            }
            let point = await window.commitPoint
            if point > committed {
                await progress.advance(to: point)
                // The cursor lags the acks by up to a quarter second: a crash then resends a little, which
                // the receiver recognises and acks without storing twice.
                let drained = await window.count == 0
                if drained || ContinuousClock.now - lastCommit > .milliseconds(250) {
                    try await spool.commit(cursor: configuration.cursorName, through: point)
                    committed = point
                    lastCommit = .now
                }
            }
        }
        let point = await window.commitPoint
        if point > committed {
            try await spool.commit(cursor: configuration.cursorName, through: point)
        }
    }

    private func quarantine(_ record: SpoolRecord, reason: String) {
        metrics.quarantined.increment()
        let directory = URL(fileURLWithPath: spool.configuration.directory).appendingPathComponent("quarantine")
        let file = directory.appendingPathComponent("\(configuration.cursorName)-\(record.sequence).batch")
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try Data(record.payload).write(to: file)
            logger.error("batch \(record.sequence) quarantined to \(file.path): \(reason)")
        } catch {
            logger.error("batch \(record.sequence) could not be quarantined to \(file.path) (\(error)); it is skipped: \(reason)")
        }
    }

    private func connect(to upstream: Upstream) async throws -> NIOAsyncChannel<Frame, Frame> {
        let tlsContext = try configuration.tls?.makeContext()
        let serverName = configuration.tls?.serverName ?? (upstream.host.isIPAddress ? nil : upstream.host)
        let idle = TimeAmount.nanoseconds(Int64(configuration.idleTimeout.nanoseconds))
        do {
            return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.nanoseconds(Int64(configuration.connectTimeout.nanoseconds)))
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .connect(host: upstream.host, port: upstream.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let pipeline = channel.pipeline.syncOperations
                        if let tlsContext {
                            try pipeline.addHandler(NIOSSLClientHandler(context: tlsContext, serverHostname: serverName))
                        }
                        try pipeline.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameBytes: WireLimits.default.maxFrameBytes)))
                        try pipeline.addHandler(MessageToByteHandler(FrameEncoder()))
                        try pipeline.addHandler(IdleStateHandler(readTimeout: idle))
                        try pipeline.addHandler(IdleConnectionCloser())
                        return try NIOAsyncChannel<Frame, Frame>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw FerrySinkError.cannotConnect(upstream, error)
        }
    }
}

/// Closes a client connection whose peer has sent nothing (not even a heartbeat) for the idle time.
final class IdleConnectionCloser: ChannelInboundHandler, Sendable {
    typealias InboundIn = Frame
    typealias InboundOut = Frame

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? IdleStateHandler.IdleStateEvent, event == .read {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}

/// Why a ferry connection ended.
public enum FerrySinkError: Error, CustomStringConvertible {
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
    public var description: String {
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

/// The sink's acknowledged position, for progress lines and `--exit-when-drained`.
actor FerrySinkProgress {
    private(set) var acknowledged: UInt64 = 0
    private var waiters: [(UInt64, CheckedContinuation<Void, Never>)] = []

    func advance(to sequence: UInt64) {
        guard sequence > acknowledged else { return }
        acknowledged = sequence
        waiters.removeAll { target, continuation in
            if target <= sequence { continuation.resume(); return true }
            return false
        }
    }

    private var splitHints: [UInt64: Int] = [:]

    /// At least how many parts batch `sequence` must be cut into (1 unless a receiver refused it as too large).
    func minimumParts(for sequence: UInt64) -> Int {
        splitHints[sequence] ?? 1
    }

    /// Doubles the parts for batch `sequence` after a too-large refusal.
    func requireMoreParts(for sequence: UInt64) {
        splitHints[sequence] = max(2, (splitHints[sequence] ?? 1) * 2)
        splitHints = splitHints.filter { $0.key >= acknowledged }
    }

    func waitUntil(_ sequence: UInt64) async {
        if acknowledged >= sequence { return }
        await withCheckedContinuation { waiters.append((sequence, $0)) }
    }
}

/// The sink's metrics.
struct FerrySinkMetrics: Sendable {
    let batchesOut = Counter(label: "logferry_ferry_sink_batches_total")
    let bytesOut = Counter(label: "logferry_ferry_sink_bytes_total")
    let eventsOut = Counter(label: "logferry_ferry_sink_events_total")
    let reconnects = Counter(label: "logferry_ferry_sink_reconnects_total")
    let connected = Counter(label: "logferry_ferry_sink_connections_total")
    let stalls = Counter(label: "logferry_ferry_sink_stalled_peers_total")
    let quarantined = Counter(label: "logferry_ferry_sink_quarantined_batches_total")

    func refusals(_ code: RefusalCode) -> Counter {
        Counter(label: "logferry_ferry_sink_refusals_total", dimensions: [("code", "\(code)")])
    }
}


extension String {
    /// Whether this is a literal IPv4 or IPv6 address (TLS then verifies no host name).
    var isIPAddress: Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, self, &v4) == 1 || inet_pton(AF_INET6, self, &v6) == 1
    }
}
