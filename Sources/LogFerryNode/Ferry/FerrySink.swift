import Foundation
import LogFerrySpool
import LogFerryWire
import Logging
import ServiceLifecycle
import NIOCore

/// The ferry sink: ships the spool to the next hop, a window of records in flight, and moves its cursor as
/// acks come back. The I/O around `ClientProtocolState`, which decides every protocol step.
///
/// It resumes after max(its own acked cursor, the upstream's resume point), so it never resends what any
/// upstream acknowledged; it reconnects with backoff and full jitter and moves to the next upstream after
/// any failure, including a peer that stays connected but acks nothing (`UpstreamRotation`). A relay
/// forwards stored batches as they are, with their origin: the bytes compressed at the edge cross every hop.
public final class FerrySink: Service, Sendable {
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
        for upstream in configuration.upstreams { metrics.upstreamConnected(upstream).record(0) }
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
        try await withThrowingTaskGroup(of: Void.self) { group in
            // The age of the oldest unacknowledged batch, for `logferry status` (a gauge, refreshed every second).
            group.addTask { await self.reportBacklogAge() }
            defer { group.cancelAll() }
            try await shipUntilCancelled()
        }
    }

    /// Ships until cancelled, reconnecting with backoff and failing over across upstreams.
    private func shipUntilCancelled() async throws {
        let start = try await spool.cursor(named: configuration.cursorName)
        await progress.advance(to: start.committed)
        let replay = try await planReplay(cursor: start.committed)
        var rng = SystemRandomNumberGenerator()
        // What each upstream's link moved on its last connection, to cut frames from the first batch on.
        var links: [Int: LinkRateEstimator] = [:]
        // Refused connections are retried within a quarter second: say so once a minute per upstream, not every time.
        var refusalWarnings: [Int: (at: ContinuousClock.Instant, since: Int)] = [:]
        var rotation = UpstreamRotation(
            count: configuration.upstreams.count, selection: configuration.selection, backoff: configuration.backoff, using: &rng)
        while !Task.isCancelled {
            let upstream = configuration.upstreams[rotation.current]
            var slow = false
            var refused = false
            let session = Mutable<FerryClientSession?>(nil)
            do {
                try await ship(to: upstream, session: session, link: links[rotation.current], replay: replay)
                logger.info("upstream \(upstream) closed the connection")
            } catch is CancellationError {
                break
            } catch let error as FerrySinkError {
                slow = error.isConfigurationProblem
                refused = error.isConnectionRefused
                if refused, let last = refusalWarnings[rotation.current], ContinuousClock.now - last.at < .seconds(60) {
                    refusalWarnings[rotation.current]?.since += 1
                    logger.debug("\(error)")
                } else {
                    let repeated = refusalWarnings[rotation.current]?.since ?? 0
                    logger.warning("\(error)\(repeated > 0 ? " (refused \(repeated) more time(s) in the last minute)" : "")")
                    refusalWarnings[rotation.current] = refused ? (.now, 0) : nil
                }
            } catch {
                if Task.isCancelled { break }
                logger.warning("upstream \(upstream): \(error)")
            }
            if Task.isCancelled { break }
            metrics.reconnects.increment()
            let progressed = await session.value?.madeProgress ?? false
            if let link = await session.value?.link { links[rotation.current] = link }
            var delay = rotation.connectionEnded(madeProgress: progressed, refused: refused, using: &rng)
            if slow { delay = max(delay, rotation.cap) }
            logger.debug("next upstream \(configuration.upstreams[rotation.current]) in \(delay)")
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
    func ship(
        to upstream: Upstream, session holder: Mutable<FerryClientSession?>, link: LinkRateEstimator?, replay: FerryReplayProgress?
    ) async throws {
        let channel = try await connect(to: upstream)
        try await channel.executeThenClose { inbound, outbound in
            var frames = inbound.makeAsyncIterator()
            // While a replay runs, records above its floor are sent again although the cursor is past them.
            var floor = await progress.acknowledged
            var replaying = false
            if let replay, await !replay.finished {
                floor = min(floor, await replay.floor)
                replaying = true
            }
            let session = FerryClientSession(state: ClientProtocolState(
                spoolID: spool.id.bytes, hostName: configuration.hostName, key: configuration.key,
                acknowledged: floor, highestSealed: await spool.lastSequence,
                window: configuration.window, usesResumePoint: !replaying),
                link: link ?? LinkRateEstimator(), inFlightTarget: configuration.progressTimeout / 2)
            holder.value = session
            let resumeAfter = try await handshake(
                upstream, session: session, frames: &frames, outbound: outbound,
                close: { [channel = channel.channel] in channel.close(promise: nil) })
            metrics.connected.increment()
            metrics.upstreamConnected(upstream).record(1)
            defer { metrics.upstreamConnected(upstream).record(0) }
            let committed = await progress.acknowledged
            if resumeAfter > committed {
                await progress.advance(to: resumeAfter)
                try await spool.commit(cursor: configuration.cursorName, through: resumeAfter)
            }
            let limits = await session.state.serverLimits ?? .default
            let stalled = Mutable<FerrySinkError?>(nil)
            do {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        try await self.send(after: resumeAfter, session: session, limits: limits, outbound: outbound, eventLoop: channel.channel.eventLoop, upstream: upstream, replay: replay)
                    }
                    group.addTask {
                        while true {
                            try await Task.sleep(for: self.configuration.heartbeatInterval)
                            try await outbound.write(.heartbeat)
                        }
                    }
                    group.addTask {
                        // Apart from the writers: a frozen peer fills the socket, and a write would wait forever.
                        try await self.watch(session, channel: channel.channel, upstream: upstream, stalled: stalled) {
                            channel.channel.close(promise: nil)
                        }
                    }
                    defer { group.cancelAll() }
                    try await self.receive(&frames, session: session, upstream: upstream, replay: replay)
                    group.cancelAll()
                }
            } catch {
                if let reason = stalled.value { throw reason }
                throw error
            }
            if let reason = stalled.value { throw reason }
        }
    }

    /// The handshake, bounded by the liveness and progress timeouts (a frozen upstream accepts TCP but never
    /// says hello).
    /// Returns the sequence after which to send.
    private func handshake(
        _ upstream: Upstream, session: FerryClientSession,
        frames: inout NIOAsyncChannelInboundStream<Frame>.AsyncIterator,
        outbound: NIOAsyncChannelOutboundWriter<Frame>,
        close: @escaping @Sendable () -> Void
    ) async throws -> UInt64 {
        // A handshake is a few hundred bytes: a frozen upstream (its kernel still accepts TCP) is left after the
        // shorter of the liveness and progress timeouts, like one that holds records without acking.
        let deadline = Task { [timeout = min(configuration.idleTimeout, configuration.progressTimeout)] in
            try await Task.sleep(for: timeout)
            close()
        }
        defer { deadline.cancel() }
        while true {
            guard let frame = try await frames.next() else { throw FerrySinkError.closedDuringHandshake(upstream) }
            switch try await feed(frame, to: session, from: upstream) {
            case .none, .committed:
                continue
            case .send(let hello):
                try await outbound.write(hello)
            case .resume(let after, let welcome):
                logger.info("connected to \(upstream); it holds our batches up to \(welcome.resumeSequence), we resume after \(after)")
                return after
            case .refused(let refusal):
                metrics.refusals(refusal.code).increment()
                throw FerrySinkError.refused(upstream, refusal.code, refusal.reason)
            case .closed(let reason):
                throw FerrySinkError.goingAway(upstream, reason)
            }
        }
    }

    /// Feeds a frame to the client state machine; a frame it rejects is the upstream breaking the protocol.
    private func feed(_ frame: Frame, to session: FerryClientSession, from upstream: Upstream) async throws -> ClientProtocolState.Action {
        do {
            return try await session.receive(frame)
        } catch {
            throw FerrySinkError.protocolViolation(upstream, "\(error)")
        }
    }

    /// Abandons a peer that holds records without acknowledging any, and without taking any bytes either,
    /// for the progress timeout: closes the connection (which ends the reading loop) and notes why. Bytes
    /// leaving the socket count as progress, so a big frame on a slow link is not mistaken for a dead peer.
    private func watch(
        _ session: FerryClientSession, channel: any Channel, upstream: Upstream, stalled: Mutable<FerrySinkError?>,
        close: @escaping @Sendable () -> Void
    ) async throws {
        let tick = min(.seconds(1), configuration.progressTimeout / 4)
        var acknowledgedBytes = await WireProgress.bytesAcknowledged(channel)
        while true {
            try await Task.sleep(for: tick)
            let now = await WireProgress.bytesAcknowledged(channel)
            if let now, now >= (acknowledgedBytes ?? 0) + WireProgress.minimumBytesPerTick {
                // Batch bytes are still leaving for the peer: a slow link, not a dead peer. (Heartbeats alone,
                // a few bytes every few seconds, stay under the threshold.)
                acknowledgedBytes = now
                await session.wireProgressed()
                continue
            }
            if await session.isStalled(after: configuration.progressTimeout) {
                metrics.stalls.increment()
                stalled.value = FerrySinkError.stalled(upstream, configuration.progressTimeout)
                close()
                return
            }
        }
    }

    /// Reads acks, refusals and heartbeats until the connection ends.
    private func receive(
        _ frames: inout NIOAsyncChannelInboundStream<Frame>.AsyncIterator,
        session: FerryClientSession,
        upstream: Upstream,
        replay: FerryReplayProgress?
    ) async throws {
        var lastCommit = ContinuousClock.now
        // The cursor never moves back: a replay sends records below it, whose acks commit nothing.
        var committed = max(await session.commitPoint, await progress.acknowledged)
        while let frame = try await frames.next() {
            switch try await feed(frame, to: session, from: upstream) {
            case .none, .send, .resume:
                // A heartbeat's echo, at least every heartbeat interval on an idle connection: time to commit
                // acks the lazy rule below left uncommitted.
                let point = await session.commitPoint
                if point > committed, await progress.acknowledged >= point {
                    try await spool.commit(cursor: configuration.cursorName, through: point)
                    committed = point
                    lastCommit = .now
                }
            case .committed:
                break
            case .refused(let refusal):
                metrics.refusals(refusal.code).increment()
                switch refusal.code {
                case .malformed where refusal.sequence != 0:
                    logger.error("upstream \(upstream) refused batch \(refusal.sequence) as malformed (\(refusal.reason)); quarantining it and moving on")
                    let reader = spool.makeReader(from: refusal.sequence)
                    if let record = try await reader.nextIfAvailable(), record.sequence == refusal.sequence {
                        quarantine(record, reason: refusal.reason)
                    }
                    _ = await session.resolved(refusal.sequence)
                case .tooLarge where refusal.sequence != 0:
                    // The next connection resends the record cut into more parts.
                    await progress.requireMoreParts(for: refusal.sequence)
                    throw FerrySinkError.refused(upstream, refusal.code, refusal.reason)
                default:
                    throw FerrySinkError.refused(upstream, refusal.code, refusal.reason)
                }
            case .closed(let reason):
                throw FerrySinkError.goingAway(upstream, reason)
            }
            let point = await session.commitPoint
            if let replay, await replay.advance(to: point) {
                try await finishReplay(replay)
            }
            if point > committed {
                await progress.advance(to: point)
                metrics.lastAckTimestamp.record(Double(RecordMetadata.now()) / 1e9)
                // The cursor lags the acks by up to a quarter second while records flow (a tenth once nothing
                // is in flight, a heartbeat interval at most when the link then goes quiet): a crash then
                // resends a little, which the receiver recognises by origin and acks without storing twice.
                // Committing every ack cost a write, two flushes and a rename per record, the agent's largest
                // kernel cost on a fast link and wear on an edge host's flash.
                let drained = await session.inFlightCount == 0
                let sinceCommit = ContinuousClock.now - lastCommit
                if sinceCommit > .milliseconds(250) || (drained && sinceCommit > .milliseconds(100)) {
                    try await spool.commit(cursor: configuration.cursorName, through: point)
                    committed = point
                    lastCommit = .now
                }
            }
        }
        let point = await session.commitPoint
        if point > committed {
            try await spool.commit(cursor: configuration.cursorName, through: point)
        }
    }

    func quarantine(_ record: SpoolRecord, reason: String) {
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
}

/// A value one task sets and another reads after it ends (the sink's view of its last connection).
final class Mutable<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value

    init(_ value: Value) { stored = value }

    var value: Value {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
