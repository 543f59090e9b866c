import LogFerryTestSupport
import Testing
@testable import LogFerrySpool

@Suite("Spool capacity policies")
struct SpoolCapacityTests {
    static func configuration(_ path: String, _ policy: CapacityPolicy) -> SpoolConfiguration {
        // 48-byte headers, 224-byte records: 2 records per 500-byte segment; 1200 bytes hold ~4 segments' worth.
        SpoolConfiguration(directory: path, segmentBytes: 500, maxBytes: 1200, capacityPolicy: policy)
    }

    @Test("drop-newest: a full spool returns .dropped and counts batch and bytes")
    func dropNewest() async throws {
        let directory = try TemporaryDirectory("spool")
        defer { directory.remove() }
        let spool = try await Spool.open(Self.configuration(directory.file("spool"), .dropNewest))
        var stored = 0
        var dropped = 0
        for n in 1...10 {
            switch try await spool.append(payload(n, size: 200)) {
            case .stored: stored += 1
            case .dropped: dropped += 1
            }
        }
        #expect(stored > 0 && dropped > 0 && stored + dropped == 10)
        let statistics = await spool.statistics()
        #expect(statistics.droppedBatches == UInt64(dropped))
        #expect(statistics.droppedBytes == UInt64(dropped * 224))
        #expect(statistics.bytes <= 1200)
        #expect(try await readAll(spool).map(\.sequence) == (1...stored).map(UInt64.init))
        await spool.close()
    }

    @Test("drop-oldest: the oldest segments go, counted; the newest records stay")
    func dropOldest() async throws {
        let directory = try TemporaryDirectory("spool")
        defer { directory.remove() }
        let spool = try await Spool.open(Self.configuration(directory.file("spool"), .dropOldest))
        for n in 1...20 {
            #expect(try await spool.append(payload(n, size: 200)) == .stored(sequence: UInt64(n)))
        }
        let statistics = await spool.statistics()
        #expect(statistics.bytes <= 1200)
        let kept = try await readAll(spool).map(\.sequence)
        #expect(kept.last == 20)
        #expect(statistics.droppedBatches == UInt64(20 - kept.count))
        #expect(statistics.droppedBytes == statistics.droppedBatches * 224)
        #expect(kept == Array(kept.first!...20))
        await spool.close()
    }

    @Test("block: an append waits for space and goes on once a cursor commits")
    func block() async throws {
        let directory = try TemporaryDirectory("spool")
        defer { directory.remove() }
        let spool = try await Spool.open(Self.configuration(directory.file("spool"), .block))
        _ = try await spool.cursor(named: "sink")
        var n = 0
        while await spool.statistics().bytes + 224 + 48 <= 1200 {
            n += 1
            _ = try await spool.append(payload(n, size: 200))
        }
        let blocked = Task { try await spool.append(payload(99, size: 200)) }
        // The blocked append cannot finish before space frees: it has stored nothing yet.
        for _ in 0..<20 { await Task.yield() }
        #expect(await spool.lastSequence == UInt64(n))
        try await spool.commit(cursor: "sink", through: UInt64(n))
        let result = try await blocked.value
        #expect(result == .stored(sequence: UInt64(n + 1)))
        #expect(await spool.statistics().droppedBatches == 0)
        await spool.close()
    }

    @Test("block: a blocked append is released with .closed when the spool closes")
    func blockThenClose() async throws {
        let directory = try TemporaryDirectory("spool")
        defer { directory.remove() }
        let spool = try await Spool.open(Self.configuration(directory.file("spool"), .block))
        for n in 1...4 { _ = try await spool.append(payload(n, size: 200)) }
        let blocked = Task { try await spool.append(payload(5, size: 200)) }
        for _ in 0..<20 { await Task.yield() }
        await spool.close()
        await #expect(throws: SpoolError.self) { try await blocked.value }
    }
}
