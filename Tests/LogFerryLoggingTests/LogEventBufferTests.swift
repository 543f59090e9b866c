import Foundation
@testable import LogFerryLogging
import LogFerryTestSupport
import LogFerryWire
import Testing

/// The handler's bounded buffer: what a log call does when the drain task is behind.
@Suite("LogFerryLogging buffer policy")
struct LogEventBufferTests {
    static func event(_ number: Int) -> Event {
        Event(timestamp: UInt64(number), source: "test", line: Array("message \(number)".utf8))
    }

    static func numbers(_ events: [Event]) -> [Int] {
        events.map { Int($0.timestamp) }
    }

    @Test("drop-newest: a full buffer keeps the first events, counts every drop, and offer never waits")
    func dropNewest() {
        let buffer = LogEventBuffer(capacity: 100, policy: .dropNewest)
        var accepted = 0
        // Nobody drains: if an offer waited, this loop would never end.
        for number in 0..<10_000 where buffer.offer(Self.event(number)) { accepted += 1 }
        #expect(accepted == 100)
        #expect(buffer.dropped == 9_900)
        #expect(buffer.takeNewDrops() == (9_900, 0))
        #expect(buffer.takeNewDrops() == (0, 0))
        #expect(Self.numbers(buffer.take(limit: .max)) == Array(0..<100))
        // Room again: the next events are taken.
        #expect(buffer.offer(Self.event(20_000)))
        #expect(Self.numbers(buffer.take(limit: 10)) == [20_000])
    }

    @Test("drop-oldest: a full buffer keeps the newest events and counts the ones pushed out")
    func dropOldest() {
        let buffer = LogEventBuffer(capacity: 100, policy: .dropOldest)
        for number in 0..<1_000 { #expect(buffer.offer(Self.event(number))) }
        #expect(buffer.dropped == 900)
        #expect(Self.numbers(buffer.take(limit: 50)) == Array(900..<950))
        #expect(Self.numbers(buffer.take(limit: .max)) == Array(950..<1_000))
    }

    @Test("block: a log call on a full buffer waits for the drain, then goes in; close releases waiters")
    func block() async throws {
        let buffer = LogEventBuffer(capacity: 2, policy: .block)
        buffer.offer(Self.event(0))
        buffer.offer(Self.event(1))
        let done = Flag()
        // The blocking call runs on a thread of its own, never on the test's executor.
        Thread.detachNewThread {
            buffer.offer(Self.event(2))
            done.set()
        }
        try await Task.sleep(for: .milliseconds(300))
        #expect(!done.isSet, "an offer into a full buffer under block returned before any room was made")
        #expect(Self.numbers(buffer.take(limit: 1)) == [0])
        #expect(await waitUntil(timeout: .seconds(30)) { done.isSet })
        #expect(Self.numbers(buffer.take(limit: .max)) == [1, 2])
        #expect(buffer.dropped == 0)

        buffer.offer(Self.event(3))
        buffer.offer(Self.event(4))
        let released = Flag()
        Thread.detachNewThread {
            buffer.offer(Self.event(5))
            released.set()
        }
        try await Task.sleep(for: .milliseconds(100))
        buffer.close()
        #expect(await waitUntil(timeout: .seconds(30)) { released.isSet })
        #expect(buffer.dropped == 1, "the offer released by close is dropped and counted")
        #expect(buffer.takeNewDrops() == (1, 1))
    }

    @Test("waitForEvents returns on an event, on wake (even one that came first), and on cancellation")
    func waiting() async throws {
        let buffer = LogEventBuffer(capacity: 10, policy: .dropNewest)
        buffer.wake()
        await buffer.waitForEvents()  // the earlier wake is not lost
        let waiter = Task { await buffer.waitForEvents() }
        try await Task.sleep(for: .milliseconds(50))
        buffer.offer(Self.event(1))
        await waiter.value
        _ = buffer.take(limit: .max)
        let cancelled = Task { await buffer.waitForEvents() }
        try await Task.sleep(for: .milliseconds(50))
        cancelled.cancel()
        await cancelled.value
    }

    @Test("the drop warning is rate limited: the first at once, then at most one per interval, nothing lost from the count")
    func dropWarningRateLimit() {
        let warnings = DropWarnings()
        #expect(warnings.add((0, 0), interval: .seconds(60), force: false) == nil, "no drops, no warning")
        #expect(warnings.add((5, 0), interval: .seconds(60), force: false).map { [$0.0, $0.1] } == [5, 0])
        #expect(warnings.add((3, 0), interval: .seconds(60), force: false) == nil, "a second warning within the interval")
        #expect(warnings.add((2, 1), interval: .seconds(60), force: true).map { [$0.0, $0.1] } == [5, 1],
                "the final report carries the drops held back")
        #expect(warnings.add((0, 0), interval: .zero, force: true) == nil)
    }
}
