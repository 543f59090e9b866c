import Foundation
import LogFerryNode
import LogFerryWire
import NIOCore
import NIOPosix
import Synchronization

/// One simulated agent of `logferry bench fanin`: its own spool id and host name, `batches` sealed batches of
/// numbered lines made beforehand, sent at a fixed pace through the real client state machine
/// (``FerryClientSession`` over ``ClientProtocolState``) on one TCP connection.
///
/// A refusal (a batch or the session, e.g. retry-later past `--max-sessions` or the buffer budget) closes the
/// connection; the session reconnects after a short jittered pause and resumes after what the listener
/// acknowledged, as the state machine's resume point says, so every batch is acknowledged exactly once.
final class FaninSession: Sendable {
    /// Position of this session among all (0-based); names its host.
    let index: Int
    /// The origin host name written into every batch.
    let host: String
    /// The 16-byte spool id this session presents (and its batches' origin).
    let spoolID: [UInt8]
    /// The sealed batches, sent as sequences 1...count.
    let batches: [SealedBatch]
    /// Delay of this session's first batch after the common start, so sessions do not send in lockstep.
    let offset: Duration
    /// Time between two batches of this session.
    let interval: Duration
    /// When each sequence was last sent (index = sequence - 1), for the ack latency.
    private let sentAt: Mutex<[ContinuousClock.Instant?]>
    private let outcome = Mutex(FaninSessionResult())

    /// Seals `batchCount` batches of `linesPerBatch` numbered lines for host `fanin-INDEX`.
    init(index: Int, batchCount: Int, linesPerBatch: Int, rate: Double) throws {
        self.index = index
        let host = "fanin-" + String(format: "%05d", index)
        self.host = host
        self.spoolID = (0..<16).map { _ in UInt8.random(in: 0...255) }
        var encoder = BatchEncoder(level: 1)
        var batches: [SealedBatch] = []
        for batch in 0..<batchCount {
            let first = batch * linesPerBatch
            let events = (first..<first + linesPerBatch).map {
                Event(timestamp: UInt64($0), source: "fanin", line: Array(Self.line($0, host: host).utf8))
            }
            batches.append(try encoder.encode(Batch(host: host, events: events)))
        }
        self.batches = batches
        self.interval = .nanoseconds(Int64(1e9 / max(rate, 0.001)))
        self.offset = .nanoseconds(Int64.random(in: 0..<max(1, Int64(1e9 / max(rate, 0.001)))))
        self.sentAt = Mutex(Array(repeating: nil, count: batchCount))
    }

    /// Line `index` of `host`: `seq=NNNNNNNNN origin=HOST msg=...`, the shape the end-to-end tests check.
    static func line(_ index: Int, host: String) -> String {
        let digits = String(index)
        return "seq=" + String(repeating: "0", count: max(0, 9 - digits.count)) + digits
            + " origin=\(host) msg=the quick brown fox jumps over the lazy dog"
    }

    /// Uncompressed bytes the receiver's file sink writes for this session (lines plus newlines).
    var outputBytes: Int {
        let lines = batches.reduce(0) { $0 + Int($1.eventCount) }
        return (0..<lines).reduce(0) { $0 + Self.line($1, host: host).utf8.count + 1 }
    }

    /// Connects, waits at `gate` for the common start, sends every batch at its time and returns once all
    /// are acknowledged, or when the task is cancelled (the run's deadline). `ready` is called once, when the
    /// first connection is welcomed.
    func run(host targetHost: String, port: Int, window: Int, gate: FaninStartGate, ready: @escaping @Sendable () -> Void) async -> FaninSessionResult {
        var acknowledged: UInt64 = 0
        var signalled = false
        while acknowledged < UInt64(batches.count), !Task.isCancelled {
            do {
                acknowledged = try await connection(
                    host: targetHost, port: port, window: window, acknowledged: acknowledged, gate: gate,
                    ready: { if !signalled { signalled = true; ready() } })
            } catch let refusal as FaninRefusal {
                acknowledged = refusal.acknowledged
                outcome.withLock { $0.refusals += 1 }
            } catch {
                outcome.withLock { $0.connectionErrors += 1 }
            }
            if acknowledged < UInt64(batches.count) {
                try? await Task.sleep(for: .milliseconds(Int.random(in: 50...250)))
            }
        }
        if !signalled { ready() }
        return outcome.withLock { $0 }
    }

    /// One connection: handshake, wait for the start, send what is due, read acks until all are in.
    /// Returns the commit point reached; throws ``FaninRefusal`` on a refusal.
    private func connection(
        host targetHost: String, port: Int, window: Int, acknowledged: UInt64, gate: FaninStartGate,
        ready: () -> Void
    ) async throws -> UInt64 {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(30))
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connect(host: targetHost, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameBytes: WireLimits.default.maxFrameBytes)))
                    try pipeline.addHandler(MessageToByteHandler(FrameEncoder()))
                    return try NIOAsyncChannel<Frame, Frame>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            let session = FerryClientSession(state: ClientProtocolState(
                spoolID: spoolID, hostName: host, key: nil, acknowledged: acknowledged,
                highestSealed: UInt64(batches.count), window: window))
            var frames = inbound.makeAsyncIterator()
            var resumeAfter: UInt64?
            while resumeAfter == nil {
                guard let frame = try await frames.next() else { throw FaninRefusal(acknowledged: acknowledged, reason: "closed during the handshake") }
                switch try await session.receive(frame) {
                case .send(let reply): try await outbound.write(reply)
                case .resume(let after, _): resumeAfter = after
                case .refused(let refusal): throw FaninRefusal(acknowledged: acknowledged, reason: refusal.reason)
                case .closed(let reason): throw FaninRefusal(acknowledged: acknowledged, reason: reason)
                case .none, .committed: continue
                }
            }
            ready()
            let start = await gate.start()
            let resumed = resumeAfter ?? acknowledged
            if resumed >= UInt64(batches.count) { return resumed }
            let iterator = FaninFrames(frames)
            return try await withThrowingTaskGroup(of: UInt64?.self) { group in
                group.addTask { try await self.readAcks(iterator, session: session) }
                group.addTask {
                    // Heartbeats, so a session waiting for the start or between slow batches stays alive.
                    while true {
                        try await Task.sleep(for: .seconds(5))
                        try await outbound.write(.heartbeat)
                    }
                }
                group.addTask {
                    try await self.sendBatches(after: resumed, start: start, session: session, outbound: outbound)
                    return nil
                }
                var reached = resumed
                while let finished = try await group.next() {
                    if let point = finished {
                        reached = point
                        break
                    }
                }
                group.cancelAll()
                try? await outbound.write(.bye("bench done"))
                return reached
            }
        }
    }

    /// Sends batches `after + 1 ...` each at its time (start + offset + (sequence - 1) × interval), as the window allows.
    private func sendBatches(
        after: UInt64, start: ContinuousClock.Instant, session: FerryClientSession, outbound: NIOAsyncChannelOutboundWriter<Frame>
    ) async throws {
        for sequence in (after + 1)...UInt64(batches.count) {
            try await Task.sleep(until: start + offset + interval * Int(sequence - 1), clock: .continuous)
            try await session.waitForSpace()
            try await session.send(sequence)
            let now = ContinuousClock.now
            sentAt.withLock { $0[Int(sequence - 1)] = now }
            let sealed = batches[Int(sequence - 1)]
            try await outbound.write(.batch(BatchFrame(
                sequence: sequence, origin: BatchOrigin(spoolID: spoolID, sequence: sequence, events: sealed.eventCount), batch: sealed)))
        }
    }

    /// Feeds the listener's frames to the state machine; notes the latency of every batch an ack commits.
    /// Returns the commit point once every batch is acknowledged.
    private func readAcks(_ frames: FaninFrames, session: FerryClientSession) async throws -> UInt64? {
        var committed = await session.commitPoint
        while let frame = try await frames.next() {
            switch try await session.receive(frame) {
            case .committed(let point):
                let now = ContinuousClock.now
                let latencies = sentAt.withLock { sent in
                    ((committed + 1)...point).compactMap { sent[Int($0 - 1)].map { now - $0 } }
                }
                committed = point
                outcome.withLock { result in
                    result.latencies += latencies
                    result.acknowledged = Int(point)
                    result.lastAck = now
                    if result.firstAck == nil { result.firstAck = now }
                }
                if point >= UInt64(batches.count) { return point }
            case .refused(let refusal):
                throw FaninRefusal(acknowledged: committed, reason: refusal.reason)
            case .closed(let reason):
                throw FaninRefusal(acknowledged: committed, reason: reason)
            case .none, .send, .resume:
                continue
            }
        }
        throw FaninRefusal(acknowledged: committed, reason: "the listener closed the connection")
    }
}

/// What one session measured.
struct FaninSessionResult: Sendable {
    /// Batches acknowledged (the commit point).
    var acknowledged = 0
    /// Time from sending to the ack that covered it, per batch.
    var latencies: [Duration] = []
    /// When the first and the last acks arrived.
    var firstAck: ContinuousClock.Instant?
    var lastAck: ContinuousClock.Instant?
    /// Refusals (batch or session), each followed by a reconnect.
    var refusals = 0
    /// Connections that failed otherwise (connect errors, resets).
    var connectionErrors = 0
}

/// The listener refused a batch or the session, or went away; the session reconnects.
struct FaninRefusal: Error {
    /// The commit point when it happened.
    var acknowledged: UInt64
    /// What the listener said.
    var reason: String
}

/// The inbound frames of one connection, shared by the handshake (before) and the ack reader (after).
final class FaninFrames: @unchecked Sendable {
    // Only the ack reader task touches the iterator after the handshake.
    private var iterator: NIOAsyncChannelInboundStream<Frame>.AsyncIterator

    init(_ iterator: NIOAsyncChannelInboundStream<Frame>.AsyncIterator) {
        self.iterator = iterator
    }

    /// The next frame, or nil when the connection closed.
    func next() async throws -> Frame? {
        try await iterator.next()
    }
}

/// The common start of every session of one run: sessions connect first, then all start sending at once.
final class FaninStartGate: Sendable {
    private let state = Mutex<(start: ContinuousClock.Instant?, waiters: [CheckedContinuation<ContinuousClock.Instant, Never>])>((nil, []))

    /// Waits for ``open(at:)`` and returns the start instant.
    func start() async -> ContinuousClock.Instant {
        await withCheckedContinuation { continuation in
            let start: ContinuousClock.Instant? = state.withLock { state in
                if let start = state.start { return start }
                state.waiters.append(continuation)
                return nil
            }
            if let start { continuation.resume(returning: start) }
        }
    }

    /// Releases every session, now and later, with `instant` as the start.
    func open(at instant: ContinuousClock.Instant) {
        let waiters = state.withLock { state in
            state.start = instant
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: instant) }
    }
}
