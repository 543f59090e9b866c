import LogFerrySpool
import LogFerryWire
import Testing
@testable import LogFerryNode

@Suite("Origin ledger: exactly once by origin")
struct OriginLedgerTests {
    let origin = SpoolID.random()

    func whole(_ units: ClosedRange<UInt64>, events: UInt32 = 10) -> OriginCoverage {
        let counts = [UInt32](repeating: events, count: units.count)
        return OriginCoverage(origin: origin, first: units.lowerBound, last: units.upperBound, fragmentStart: 0,
                              unitEvents: counts, eventCount: events * UInt32(units.count))
    }

    func fragment(_ unit: UInt64, _ events: Range<UInt32>, of total: UInt32) -> OriginCoverage {
        OriginCoverage(origin: origin, first: unit, last: unit, fragmentStart: events.lowerBound,
                       unitEvents: [total], eventCount: UInt32(events.count))
    }

    @Test("in-order delivery is one range; a copy is recognised")
    func inOrder() {
        var ledger = OriginLedger()
        for unit in UInt64(1)...1000 {
            #expect(ledger.missing(whole(unit...unit)) == .everything)
            ledger.insert(whole(unit...unit), now: 1)
        }
        #expect(ledger.origins[origin]?.units == [1...1000])
        #expect(ledger.missing(whole(500...500)) == .nothing)
        #expect(ledger.missing(whole(1001...1001)) == .everything)
    }

    @Test("out-of-order arrival: 111-120 then 100-110 stores both; a gap is never covered")
    func outOfOrder() {
        var ledger = OriginLedger()
        ledger.insert(whole(111...120), now: 1)
        #expect(ledger.missing(whole(100...110)) == .everything)
        #expect(ledger.missing(whole(105...105)) == .everything)
        ledger.insert(whole(100...110), now: 1)
        #expect(ledger.origins[origin]?.units == [100...120])
        ledger.insert(whole(130...130), now: 1)
        #expect(ledger.missing(whole(121...129)) == .everything)
        #expect(ledger.origins[origin]?.units == [100...120, 130...130])
    }

    @Test("a merged batch that overlaps what is held is trimmed to the missing units")
    func partialOverlap() throws {
        var ledger = OriginLedger()
        ledger.insert(whole(100...110), now: 1)
        guard case .some(let pieces) = ledger.missing(whole(105...115)) else {
            Issue.record("expected a partial overlap")
            return
        }
        #expect(pieces.map(\.unit) == Array(111...115))
        let groups = OriginCoverage.grouping(pieces, origin: origin)
        #expect(groups.count == 1)
        #expect(groups.first?.first == 111 && groups.first?.last == 115)
    }

    @Test("fragments: different cuts of one unit add up, and the rest of a unit is all that is missing")
    func fragments() {
        var ledger = OriginLedger()
        ledger.insert(fragment(7, 0..<50, of: 100), now: 1)
        #expect(ledger.missing(fragment(7, 0..<50, of: 100)) == .nothing)
        #expect(ledger.missing(fragment(7, 25..<75, of: 100)) == .some([.init(unit: 7, events: 50..<75, total: 100)]))
        // The whole unit arriving another way: only its second half is missing.
        #expect(ledger.missing(whole(7...7, events: 100)) == .some([.init(unit: 7, events: 50..<100, total: 100)]))
        ledger.insert(fragment(7, 50..<100, of: 100), now: 1)
        #expect(ledger.origins[origin]?.units == [7...7])
        #expect(ledger.origins[origin]?.partial.isEmpty == true)
    }

    @Test("the snapshot round-trips, and a damaged one is an error, not a crash")
    func snapshot() throws {
        var ledger = OriginLedger()
        ledger.insert(whole(1...5), now: 42)
        ledger.insert(whole(9...9), now: 43)
        ledger.insert(fragment(12, 3..<8, of: 20), now: 44)
        ledger.insert(OriginCoverage(origin: SpoolID.random(), sequence: 3, events: 1), now: 45)
        let bytes = ledger.snapshot()
        var reader = ByteArrayReader(bytes, what: "test")
        #expect(try OriginLedger(reading: &reader) == ledger)
        for cut in [1, 10, bytes.count / 2, bytes.count - 1] {
            var short = ByteArrayReader(Array(bytes.prefix(cut)), what: "test")
            #expect(throws: RecordMetadataError.self) { try OriginLedger(reading: &short) }
        }
        var hostile = ByteArrayReader([0xFF, 0xFF, 0xFF, 0xFF], what: "test")
        #expect(throws: RecordMetadataError.self) { try OriginLedger(reading: &hostile) }
    }

    @Test("bounded: an origin with too many gaps forgets its oldest ranges; quiet origins expire")
    func bounded() {
        var ledger = OriginLedger()
        for unit in 0..<UInt64(OriginLedger.maxRangesPerOrigin + 10) {
            ledger.insert(whole((unit * 2 + 1)...(unit * 2 + 1)), now: 1)
        }
        #expect(ledger.origins[origin]?.units.count == OriginLedger.maxRangesPerOrigin)
        #expect(ledger.forgottenRanges == 10)
        #expect(ledger.expire(quietFor: 100, now: 50) == 0)
        #expect(ledger.expire(quietFor: 100, now: 1_000) == 1)
        #expect(ledger.origins.isEmpty)
    }

    @Test("record metadata carries the origin unchanged")
    func metadata() throws {
        let coverage = whole(40...42, events: 7)
        let metadata = RecordMetadata(upstream: UpstreamPosition(spoolID: origin, sequence: 3), origin: coverage)
        let decoded = try RecordMetadata(decoding: metadata.encoded())
        #expect(decoded.origin == coverage)
        #expect(decoded.upstream?.sequence == 3)
        // An agent's own record has no origin entry: it is its own origin.
        let own = OriginCoverage.of(sequence: 9, metadata: RecordMetadata(), eventCount: 4, spoolID: origin)
        #expect(own == OriginCoverage(origin: origin, sequence: 9, events: 4))
    }
}

@Suite("Upstream rotation (failover bookkeeping)")
struct UpstreamRotationTests {
    @Test("after any failure the next upstream is tried; the failed one only after the others")
    func failover() {
        var rng = SystemRandomNumberGenerator()
        var rotation = UpstreamRotation(count: 3, selection: .failover, backoff: Backoff(), using: &rng)
        #expect(rotation.current == 0)
        _ = rotation.connectionEnded(madeProgress: false, using: &rng)
        #expect(rotation.current == 1)
        _ = rotation.connectionEnded(madeProgress: false, using: &rng)
        #expect(rotation.current == 2)
        _ = rotation.connectionEnded(madeProgress: true, using: &rng)
        #expect(rotation.current == 0)
        #expect(rotation.failuresInARow == 0)
    }

    @Test("the delay stays short while untried upstreams remain, and backs off once all failed")
    func delays() {
        var rng = SystemRandomNumberGenerator()
        let backoff = Backoff(base: .milliseconds(10), cap: .seconds(100))
        var rotation = UpstreamRotation(count: 2, selection: .failover, backoff: backoff, using: &rng)
        #expect(rotation.connectionEnded(madeProgress: false, using: &rng) <= .milliseconds(10))
        var longest = Duration.zero
        for _ in 0..<12 { longest = max(longest, rotation.connectionEnded(madeProgress: false, using: &rng)) }
        #expect(longest > .milliseconds(10))
    }

    @Test("when every upstream refuses outright the wait stays within 250 ms; a timeout backs off fully again")
    func refusedRetriesPromptly() {
        var rng = SystemRandomNumberGenerator()
        let backoff = Backoff(base: .milliseconds(100), cap: .seconds(60))
        var rotation = UpstreamRotation(count: 2, selection: .failover, backoff: backoff, using: &rng)
        #expect(UpstreamRotation.refusedRetryCap <= .milliseconds(250))
        for _ in 0..<40 {
            #expect(rotation.connectionEnded(madeProgress: false, refused: true, using: &rng) <= UpstreamRotation.refusedRetryCap)
        }
        // One upstream now times out instead: the round is no longer all refusals, the backoff shows again.
        var longest = Duration.zero
        for _ in 0..<20 { longest = max(longest, rotation.connectionEnded(madeProgress: false, refused: false, using: &rng)) }
        #expect(longest > UpstreamRotation.refusedRetryCap)
    }

    @Test("round-robin starts anywhere and moves on after every connection")
    func roundRobin() {
        var rng = SystemRandomNumberGenerator()
        var starts = Set<Int>()
        for _ in 0..<200 {
            starts.insert(UpstreamRotation(count: 4, selection: .roundRobin, backoff: Backoff(), using: &rng).current)
        }
        #expect(starts.count > 1)
        var rotation = UpstreamRotation(count: 4, selection: .roundRobin, backoff: Backoff(), using: &rng)
        let first = rotation.current
        _ = rotation.connectionEnded(madeProgress: true, using: &rng)
        #expect(rotation.current == (first + 1) % 4)
    }
}

@Suite("Buffer budget (--max-buffer-bytes)")
struct BufferBudgetTests {
    @Test("reservations past the limit are refused while others hold memory; a lone batch always fits")
    func budget() {
        let budget = BufferBudget(limit: 100)
        #expect(budget.reserve(60))
        #expect(!budget.reserve(50), "60 + 50 passes 100")
        #expect(budget.current == 60)
        #expect(budget.reserve(40))
        budget.release(60)
        budget.release(40)
        #expect(budget.current == 0)
        #expect(budget.reserve(500), "nothing else held: a batch larger than the budget is still taken")
        #expect(!budget.reserve(1))
        budget.release(500)
        #expect(budget.reserve(1))
    }
}
