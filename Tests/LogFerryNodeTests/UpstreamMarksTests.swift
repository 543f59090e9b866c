import LogFerrySpool
import LogFerryWire
import Testing
@testable import LogFerryNode

@Suite("Upstream marks and record metadata")
struct UpstreamMarksTests {
    let a = SpoolID.random()
    let b = SpoolID.random()

    @Test("metadata round-trips and tolerates empty and unknown entries")
    func metadataRoundTrip() throws {
        let metadata = RecordMetadata(upstream: UpstreamPosition(spoolID: a, sequence: 42, part: 1, partCount: 3), fileCheckpoints: [1, 2, 3])
        #expect(try RecordMetadata(decoding: metadata.encoded()) == metadata)
        #expect(try RecordMetadata(decoding: []) == RecordMetadata())
        // An entry with an unknown tag is skipped.
        var bytes = RecordMetadata(fileCheckpoints: [9]).encoded()
        bytes += [77, 0, 0, 0, 2, 0xAA, 0xBB]
        #expect(try RecordMetadata(decoding: bytes).fileCheckpoints == [9])
        // A length that overruns the area is an error, not a crash.
        #expect(throws: RecordMetadataError.self) { try RecordMetadata(decoding: [1, 1, 0xFF, 0xFF, 0xFF, 0xFF]) }
        #expect(throws: RecordMetadataError.self) { try RecordMetadata(decoding: [9]) }
    }

    @Test("resume points: whole batches, split batches, and only forward")
    func resumePoints() {
        var marks = UpstreamMarks()
        #expect(marks.resumePoint(for: a) == (0, 0))
        marks.record(UpstreamPosition(spoolID: a, sequence: 5))
        #expect(marks.resumePoint(for: a) == (5, 0))
        #expect(marks.contains(a, sequence: 5, part: 0))
        #expect(marks.contains(a, sequence: 3, part: 0))
        #expect(!marks.contains(a, sequence: 6, part: 0))
        #expect(!marks.contains(b, sequence: 1, part: 0))

        // Two of three parts of batch 8 stored: resume after 7, skipping two parts of the next batch.
        marks.record(UpstreamPosition(spoolID: a, sequence: 8, part: 0, partCount: 3))
        marks.record(UpstreamPosition(spoolID: a, sequence: 8, part: 1, partCount: 3))
        #expect(marks.resumePoint(for: a) == (7, 2))
        #expect(marks.contains(a, sequence: 8, part: 1))
        #expect(!marks.contains(a, sequence: 8, part: 2))
        marks.record(UpstreamPosition(spoolID: a, sequence: 8, part: 2, partCount: 3))
        #expect(marks.resumePoint(for: a) == (8, 0))
        #expect(marks.contains(a, sequence: 8, part: 2))

        // An older position never moves a mark back.
        marks.record(UpstreamPosition(spoolID: a, sequence: 2))
        #expect(marks.resumePoint(for: a) == (8, 0))
    }

    @Test("snapshots round-trip; a corrupt snapshot is an error")
    func snapshots() throws {
        var marks = UpstreamMarks()
        marks.apply(RecordMetadata(upstream: UpstreamPosition(spoolID: a, sequence: 10)), sequence: 1)
        marks.apply(RecordMetadata(upstream: UpstreamPosition(spoolID: b, sequence: 3, part: 0, partCount: 2)), sequence: 2)
        marks.apply(RecordMetadata(), sequence: 3)
        let restored = try UpstreamMarks(snapshot: marks.snapshot())
        #expect(restored == marks)
        #expect(throws: (any Error).self) { try UpstreamMarks(snapshot: Array(marks.snapshot().dropLast())) }
    }
}

@Suite("Backoff")
struct BackoffTests {
    @Test("ceilings double up to the cap; delays stay within them; reset starts over")
    func ceilings() {
        var backoff = Backoff(base: .milliseconds(100), cap: .seconds(2))
        var rng = SystemRandomNumberGenerator()
        var ceilings: [Duration] = []
        for _ in 0..<8 {
            let ceiling = backoff.ceiling
            ceilings.append(ceiling)
            let delay = backoff.next(using: &rng)
            #expect(delay >= .zero && delay <= ceiling)
        }
        #expect(ceilings.prefix(5) == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .milliseconds(1600)])
        #expect(ceilings.suffix(3).allSatisfy { $0 == .seconds(2) })
        backoff.reset()
        #expect(backoff.ceiling == .milliseconds(100))
    }

    @Test("full jitter spreads delays over the whole range")
    func jitterSpreads() {
        var backoff = Backoff(base: .seconds(1), cap: .seconds(1))
        var low = 0
        var high = 0
        for _ in 0..<1000 {
            let delay = backoff.next()
            if delay < .milliseconds(250) { low += 1 }
            if delay > .milliseconds(750) { high += 1 }
        }
        #expect(low > 100 && high > 100)
    }
}

@Suite("Ferry client session")
struct FerryClientSessionTests {
    /// A session past the handshake, with the server's window `maxWindow` and our cursor at `acknowledged`.
    func established(window: Int, acknowledged: UInt64 = 0) async throws -> FerryClientSession {
        let session = FerryClientSession(state: ClientProtocolState(
            spoolID: SpoolID.random().bytes, hostName: "h", key: nil, acknowledged: acknowledged, window: window))
        var limits = WireLimits.default
        limits.maxWindow = 32
        _ = try await session.receive(.serverHello(ServerHello(
            versionMin: 2, versionMax: 2, nonce: [UInt8](repeating: 0, count: 32), limits: limits)))
        _ = try await session.receive(.welcome(Welcome(resumeSequence: 0)))
        return session
    }

    @Test("cumulative acks free room and move the commit point")
    func acks() async throws {
        let session = try await established(window: 2, acknowledged: 4)
        try await session.waitForSpace()
        try await session.send(5)
        try await session.send(6)
        #expect(await session.inFlightCount == 2)
        let waiter = Task { try await session.waitForSpace() }
        #expect(try await session.receive(.ack(5)) == .committed(5))
        try await waiter.value
        #expect(await session.commitPoint == 5)
        _ = try await session.receive(.ack(6))
        #expect(await session.inFlightCount == 0)
        #expect(await session.commitPoint == 6)
        #expect(await session.madeProgress)
    }

    @Test("a resolved record commits only once everything before it is done")
    func resolutions() async throws {
        let session = try await established(window: 8)
        for s in 1...3 { try await session.send(UInt64(s)) }
        #expect(await session.resolved(2) == nil)
        #expect(await session.commitPoint == 0)
        _ = try await session.receive(.ack(1))
        #expect(await session.commitPoint == 2)
        _ = try await session.receive(.ack(3))
        #expect(await session.commitPoint == 3)
    }

    @Test("a waiter is released by cancellation")
    func cancellation() async throws {
        let session = try await established(window: 1)
        try await session.send(1)
        let waiter = Task { try await session.waitForSpace() }
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
    }

    @Test("stall detection needs records in flight")
    func stall() async throws {
        let session = try await established(window: 4)
        #expect(await !session.isStalled(after: .zero))
        try await session.send(1)
        try await Task.sleep(for: .milliseconds(5))
        #expect(await session.isStalled(after: .milliseconds(1)))
        #expect(await !session.isStalled(after: .seconds(60)))
    }
}
