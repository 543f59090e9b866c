import Testing
@testable import LogFerryNode

@Suite("Link rate estimator (frames cut to a slow link)")
struct LinkRateEstimatorTests {
    let start = ContinuousClock.now

    @Test("unknown link: no cut; a fast link (acks at once) never cuts")
    func fastLink() {
        var link = LinkRateEstimator()
        #expect(link.parts(for: 1 << 20, within: .seconds(3)) == 1)
        for sequence in 1...10 as ClosedRange<UInt64> {
            let sent = start + .milliseconds(Int(sequence) * 100)
            link.sent(sequence, bytes: 500_000, at: sent)
            link.acknowledged(through: sequence, at: sent + .milliseconds(2))
        }
        #expect(link.parts(for: 1 << 20, within: .seconds(3)) == 1)
    }

    @Test("20 KB/s with frames queued: measured near 20 KB/s, a 500 KB frame cut to pieces of a few seconds")
    func slowLink() throws {
        var link = LinkRateEstimator()
        // Four 100 KB frames sent at once; the link delivers one every 5 s.
        for sequence in 1...4 as ClosedRange<UInt64> { link.sent(sequence, bytes: 100_000, at: start) }
        for sequence in 1...4 as ClosedRange<UInt64> {
            link.acknowledged(through: sequence, at: start + .seconds(5 * Int(sequence)))
        }
        let rate = try #require(link.bytesPerSecond)
        #expect(rate > 19_000 && rate < 21_000)
        let parts = link.parts(for: 500_000, within: .seconds(3))
        #expect(parts >= 8 && parts <= 9) // 500 KB / (20 KB/s × 3 s) = 8.3
        // Never below the smallest frame.
        #expect(link.parts(for: 64 << 10, within: .milliseconds(1)) == 4)
    }

    @Test("one ack for several records is one sample; a link that speeds up is trusted at once")
    func cumulativeAndRecovery() throws {
        var link = LinkRateEstimator()
        for sequence in 1...3 as ClosedRange<UInt64> { link.sent(sequence, bytes: 10_000, at: start) }
        link.acknowledged(through: 3, at: start + .seconds(3)) // 30 KB in 3 s
        #expect(abs((link.bytesPerSecond ?? 0) - 10_000) < 100)
        link.sent(4, bytes: 1_000_000, at: start + .seconds(4))
        link.acknowledged(through: 4, at: start + .seconds(4) + .milliseconds(100))
        #expect((link.bytesPerSecond ?? 0) > 5_000_000)
        #expect(link.parts(for: 1 << 20, within: .seconds(3)) == 1)
        // Records in flight when a connection ends are not measured on the next.
        link.sent(5, bytes: 1, at: start + .seconds(5))
        link.connectionEnded()
        link.acknowledged(through: 5, at: start + .seconds(60))
        #expect((link.bytesPerSecond ?? 0) > 5_000_000)
    }

    @Test("slow start: one record until the first ack; then what is in flight stays within the target")
    func inFlight() {
        var link = LinkRateEstimator()
        #expect(link.allowsAnotherRecord(within: .seconds(7)))
        link.sent(1, bytes: 100_000, at: start)
        #expect(!link.allowsAnotherRecord(within: .seconds(7)))
        link.acknowledged(through: 1, at: start + .seconds(5)) // 20 KB/s: 140 KB may be in flight
        link.sent(2, bytes: 60_000, at: start + .seconds(5))
        link.sent(3, bytes: 60_000, at: start + .seconds(5))
        #expect(link.allowsAnotherRecord(within: .seconds(7)))
        link.sent(4, bytes: 60_000, at: start + .seconds(5))
        #expect(!link.allowsAnotherRecord(within: .seconds(7)))
        link.forget(through: 4)
        #expect(link.bytesInFlight == 0 && link.allowsAnotherRecord(within: .seconds(7)))
    }
}
