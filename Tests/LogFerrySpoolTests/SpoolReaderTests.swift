import LogFerryTestSupport
import Testing
@testable import LogFerrySpool

@Suite("Spool readers")
struct SpoolReaderTests {
    @Test("a reader waiting at the tail is woken by the next append")
    func wakeUp() async throws {
        for policy in [FsyncPolicy.always, .never] {
            let directory = try TemporaryDirectory("spool")
            defer { directory.remove() }
            let spool = try await Spool.open(SpoolConfiguration(directory: directory.file("spool"), fsync: policy))
            let reader = spool.makeReader(from: 1)
            let waiting = Task { try await reader.next() }
            for _ in 0..<20 { await Task.yield() }
            _ = try await spool.append(payload(1), metadata: [5])
            let record = try await waiting.value
            #expect(record == SpoolRecord(sequence: 1, metadata: [5], payload: payload(1)))
            await spool.close()
        }
    }

    @Test("a waiting reader honours cancellation; a closed spool ends readers with nil")
    func cancellationAndClose() async throws {
        let directory = try TemporaryDirectory("spool")
        defer { directory.remove() }
        let spool = try await Spool.open(SpoolConfiguration(directory: directory.file("spool")))
        let reader = spool.makeReader(from: 1)
        let waiting = Task { try await reader.next() }
        for _ in 0..<20 { await Task.yield() }
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }

        let second = spool.makeReader(from: 1)
        let ending = Task { try await second.next() }
        for _ in 0..<20 { await Task.yield() }
        await spool.close()
        #expect(try await ending.value == nil)
    }

    @Test("a reader streams records as they are appended, across segment rolls")
    func streaming() async throws {
        let directory = try TemporaryDirectory("spool")
        defer { directory.remove() }
        let spool = try await Spool.open(SpoolConfiguration(directory: directory.file("spool"), segmentBytes: 600))
        let reader = spool.makeReader(from: 1)
        let consumer = Task {
            var seen: [UInt64] = []
            while seen.count < 50, let record = try await reader.next() {
                #expect(record.payload == payload(Int(record.sequence), size: 150))
                seen.append(record.sequence)
            }
            return seen
        }
        for n in 1...50 { _ = try await spool.append(payload(n, size: 150)) }
        #expect(try await consumer.value == Array(1...50))
        await spool.close()
    }
}

@Suite("Spool reader racing the writer")
struct SpoolReaderRaceTests {
    /// Regression: a reader cached the segment's file size while a record was being written, and a later
    /// snapshot covering that record was clipped by the stale size: the complete record was quarantined
    /// and skipped (seen in `bench ship` under load).
    @Test("large records appended while a reader follows: every record read, none quarantined", arguments: ["interval", "always"])
    func readerNeverSeesHalfWrittenRecords(policy: String) async throws {
        let directory = try TemporaryDirectory("spool")
        defer { directory.remove() }
        let fsync = try #require(FsyncPolicy(parsing: policy))
        let spool = try await Spool.open(SpoolConfiguration(directory: directory.file("spool"), segmentBytes: 8 << 20, fsync: fsync))
        let count = 200
        let reader = spool.makeReader(from: 1)
        let readTask = Task {
            var seen = 0
            while seen < count, let record = try await reader.next() {
                #expect(record.payload.count == 300_000 + Int(record.sequence % 7))
                #expect(record.payload.first == UInt8(truncatingIfNeeded: record.sequence))
                seen += 1
            }
            return seen
        }
        for i in 1...count {
            let payload = [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: 300_000 + i % 7)
            _ = try await spool.append(payload)
        }
        // A skipped record would leave the reader waiting for ever: give it a deadline, then stop it.
        let watchdog = Task {
            try await Task.sleep(for: .seconds(20))
            readTask.cancel()
        }
        let seen = try? await readTask.value
        watchdog.cancel()
        #expect(seen == count, "the reader missed records")
        #expect(await spool.statistics().quarantinedRecords == 0)
        await spool.close()
    }
}
