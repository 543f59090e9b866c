import Foundation
import LogFerryTestSupport
import Testing
@testable import LogFerrySpool

@Suite("Spool recovery and sequences")
struct SpoolRecoveryTests {
    @Test("a sequence is never reused: not after a clean close, not after a crash under never")
    func neverReused() async throws {
        let directory = try TemporaryDirectory("spool")
        defer { directory.remove() }
        var configuration = SpoolConfiguration(directory: directory.file("spool"), fsync: .never)
        var spool = try await Spool.open(configuration)
        for n in 1...5 { _ = try await spool.append(payload(n)) }
        // A crash snapshot taken while the spool is open: the process "died" after sequence 5.
        try directory.crashCopy(of: "spool", to: "crashed")
        for n in 6...7 { _ = try await spool.append(payload(n)) }
        await spool.close()
        spool = try await Spool.open(configuration)
        #expect(try await spool.append(payload(8)) == .stored(sequence: 8))  // clean close: no gap
        await spool.close()

        configuration.directory = directory.file("crashed")
        spool = try await Spool.open(configuration)
        #expect(try await readAll(spool).map(\.sequence) == [1, 2, 3, 4, 5])
        guard case .stored(let next) = try await spool.append(payload(6)) else {
            Issue.record("append refused")
            return
        }
        #expect(next > 7, "after a crash the spool must start above every sequence it may have handed out")
        await spool.close()
    }

    @Test("a missing spool.meta is rebuilt: same spool id, sequences still above everything stored")
    func missingMeta() async throws {
        let directory = try TemporaryDirectory("spool")
        defer { directory.remove() }
        let configuration = SpoolConfiguration(directory: directory.file("spool"))
        var spool = try await Spool.open(configuration)
        let id = spool.id
        for n in 1...3 { _ = try await spool.append(payload(n)) }
        await spool.close()
        try FileManager.default.removeItem(atPath: directory.file("spool/spool.meta"))
        spool = try await Spool.open(configuration)
        #expect(spool.id == id)
        #expect(try await readAll(spool).map(\.sequence) == [1, 2, 3])
        guard case .stored(let next) = try await spool.append(payload(4)) else { return }
        #expect(next > 3)
        await spool.close()
    }

    @Test("the spool id survives reopening and differs between spools")
    func spoolIdentity() async throws {
        let directory = try TemporaryDirectory("spool")
        defer { directory.remove() }
        let a = try await Spool.open(SpoolConfiguration(directory: directory.file("a")))
        let b = try await Spool.open(SpoolConfiguration(directory: directory.file("b")))
        #expect(a.id != b.id)
        let id = a.id
        await a.close()
        await b.close()
        let again = try await Spool.open(SpoolConfiguration(directory: directory.file("a")))
        #expect(again.id == id)
        await again.close()
    }

    @Test("a torn tail is truncated; appends continue after the last intact record")
    func tornTail() async throws {
        let directory = try TemporaryDirectory("spool")
        defer { directory.remove() }
        let configuration = SpoolConfiguration(directory: directory.file("spool"))
        var spool = try await Spool.open(configuration)
        for n in 1...4 { _ = try await spool.append(payload(n)) }
        await spool.close()
        let path = directory.file("spool/segments/00000000000000000001.seg")
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        let size = try handle.seekToEnd()
        try handle.truncate(atOffset: size - 30)
        try handle.close()
        spool = try await Spool.open(configuration)
        #expect(try await readAll(spool).map(\.sequence) == [1, 2, 3])
        _ = try await spool.append(payload(9))
        #expect(try await readAll(spool).map(\.payload).last == payload(9))
        #expect(await spool.statistics().quarantinedRecords == 0)
        await spool.close()
    }
}
