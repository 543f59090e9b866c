import Testing
@testable import LogFerrySpool

@Suite("Spool readers")
struct SpoolReaderTests {
    @Test("a reader waiting at the tail is woken by the next append")
    func wakeUp() async throws {
        for policy in [FsyncPolicy.always, .never] {
            let directory = try TestDirectory()
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
        let directory = try TestDirectory()
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
        let directory = try TestDirectory()
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
