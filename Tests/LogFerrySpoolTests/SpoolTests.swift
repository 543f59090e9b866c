import Foundation
import LogFerryTestSupport
import Testing
@testable import LogFerrySpool

@Suite("Spool: append, read, roll, cursors, deletion")
struct SpoolTests {
    @Test("appends get sequences from 1 and read back with their metadata, under every fsync policy")
    func appendAndRead() async throws {
        for policy in [FsyncPolicy.always, .interval(milliseconds: 50), .never] {
            let directory = try TemporaryDirectory("spool")
            defer { directory.remove() }
            let spool = try await Spool.open(SpoolConfiguration(directory: directory.file("spool"), fsync: policy))
            #expect(await spool.lastSequence == 0)
            #expect(await spool.firstSequence == 1)
            for n in 1...10 {
                let result = try await spool.append(payload(n), metadata: [UInt8(n)])
                #expect(result == .stored(sequence: UInt64(n)))
            }
            #expect(await spool.lastSequence == 10)
            let records = try await readAll(spool)
            #expect(records.map(\.sequence) == Array(1...10))
            #expect(records.map(\.payload) == (1...10).map { payload($0) })
            #expect(records.map(\.metadata) == (1...10).map { [UInt8($0)] })
            #expect(try await readAll(spool, from: 7).map(\.sequence) == [7, 8, 9, 10])
            await spool.close()
        }
    }

    @Test("a payload appended in parts is stored as one record, byte for byte the parts joined, checked after a reopen")
    func appendParts() async throws {
        let directory = try TemporaryDirectory("spool-parts")
        defer { directory.remove() }
        let configuration = SpoolConfiguration(directory: directory.file("spool"))
        var spool = try await Spool.open(configuration)
        let parts: [[UInt8]] = [[1, 2, 3], [], payload(7), [9]]
        #expect(try await spool.append(parts: parts, metadata: [42]) == .stored(sequence: 1))
        let pending = try await spool.enqueue(parts: [payload(3), payload(4)])
        #expect(try await spool.waitUntilDurable(pending) == .stored(sequence: 2))
        #expect(try await spool.append(payload(5)) == .stored(sequence: 3))
        await spool.close()
        // Reopened, recovery checks every record's CRC: a record framed over the parts must pass as one.
        spool = try await Spool.open(configuration)
        let records = try await readAll(spool)
        #expect(records.map(\.payload) == [parts.flatMap { $0 }, payload(3) + payload(4), payload(5)])
        #expect(records.map(\.metadata) == [[42], [], []])
        await spool.close()
    }

    @Test("segments roll at the configured size, are named by their first sequence, and read across")
    func rolling() async throws {
        let directory = try TemporaryDirectory("spool")
        defer { directory.remove() }
        let spool = try await Spool.open(SpoolConfiguration(directory: directory.file("spool"), segmentBytes: 1000))
        for n in 1...30 { _ = try await spool.append(payload(n, size: 200)) }
        let names = directory.segments()
        // A segment rolls once it reaches 1000 bytes: a 48-byte header + 5 records of 224 bytes.
        #expect(names.count == 6)
        #expect(names.first == "00000000000000000001.seg")
        #expect(names.dropFirst().first == "00000000000000000006.seg")
        #expect(try await readAll(spool).map(\.sequence) == Array(1...30))
        #expect(try await readAll(spool, from: 14).map(\.sequence) == Array(14...30))
        await spool.close()
    }

    @Test("8 concurrent appenders under fsync always: distinct sequences, all readable in order")
    func groupCommit() async throws {
        let directory = try TemporaryDirectory("spool")
        defer { directory.remove() }
        let spool = try await Spool.open(SpoolConfiguration(directory: directory.file("spool"), segmentBytes: 4096))
        let sequences = try await withThrowingTaskGroup(of: [UInt64].self) { group in
            for task in 0..<8 {
                group.addTask {
                    var mine: [UInt64] = []
                    for n in 0..<25 {
                        if case .stored(let s) = try await spool.append(payload(task * 100 + n)) { mine.append(s) }
                    }
                    return mine
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(Set(sequences).count == 200)
        #expect(sequences.sorted() == Array(1...200))
        #expect(try await readAll(spool).map(\.sequence) == Array(1...200))
        await spool.close()
    }

    @Test("cursors: created before the oldest record, committed with state, persisted across reopen")
    func cursors() async throws {
        let directory = try TemporaryDirectory("spool")
        defer { directory.remove() }
        let configuration = SpoolConfiguration(directory: directory.file("spool"))
        var spool = try await Spool.open(configuration)
        for n in 1...5 { _ = try await spool.append(payload(n)) }
        #expect(try await spool.cursor(named: "file-sink") == SpoolCursorPosition(committed: 0))
        try await spool.commit(cursor: "file-sink", through: 3, state: [7, 7])
        await #expect(throws: SpoolError.self) { try await spool.commit(cursor: "file-sink", through: 99) }
        await #expect(throws: SpoolError.self) { try await spool.cursor(named: "../evil") }
        #expect(await spool.statistics().cursors == [.init(name: "file-sink", committed: 3, backlog: 2)])
        await spool.close()
        spool = try await Spool.open(configuration)
        #expect(try await spool.cursor(named: "file-sink") == SpoolCursorPosition(committed: 3, state: [7, 7]))
        try await spool.removeCursor(named: "file-sink")
        #expect(try await spool.cursor(named: "file-sink") == SpoolCursorPosition(committed: 0))
        await spool.close()
    }

    @Test("a segment is deleted once every cursor has passed it, never with no cursor")
    func deletion() async throws {
        let directory = try TemporaryDirectory("spool")
        defer { directory.remove() }
        let configuration = SpoolConfiguration(directory: directory.file("spool"), segmentBytes: 500)
        var spool = try await Spool.open(configuration)
        for n in 1...20 { _ = try await spool.append(payload(n, size: 200)) }  // 3 records per segment
        #expect(directory.segments().count == 7)
        _ = try await spool.cursor(named: "a")
        _ = try await spool.cursor(named: "b")
        try await spool.commit(cursor: "a", through: 20)
        #expect(directory.segments().count == 7)
        try await spool.commit(cursor: "b", through: 3)
        #expect(directory.segments().first == "00000000000000000004.seg")
        #expect(await spool.firstSequence == 4)
        try await spool.commit(cursor: "b", through: 5)  // segment 4 holds 4, 5 and 6: kept
        #expect(directory.segments().first == "00000000000000000004.seg")
        try await spool.removeCursor(named: "b")
        #expect(directory.segments() == ["00000000000000000019.seg"])  // the tail stays
        #expect(try await readAll(spool, from: 1).map(\.sequence) == [19, 20])
        await spool.close()

        // A second spool with no cursor keeps everything.
        spool = try await Spool.open(SpoolConfiguration(directory: directory.file("other"), segmentBytes: 500))
        for n in 1...10 { _ = try await spool.append(payload(n, size: 200)) }
        #expect(await spool.statistics().segmentCount == 4)
        await spool.close()
    }

    @Test("a reader left behind while the segments after its own are consumed and deleted: no gap reported, it reads on")
    func readerLeftBehind() async throws {
        let directory = try TemporaryDirectory("spool")
        defer { directory.remove() }
        let spool = try await Spool.open(SpoolConfiguration(directory: directory.file("spool"), segmentBytes: 500))
        for n in 1...20 { _ = try await spool.append(payload(n, size: 200)) }  // 3 records per segment
        // A slow reader (like the sink's backlog-age probe) is in the first segment when acks move far ahead.
        let reader = spool.makeReader(from: 1)
        #expect(try await reader.nextIfAvailable()?.sequence == 1)
        try await spool.commit(cursor: "sink", through: 14)  // segment 13 holds 13, 14 and 15: kept
        #expect(directory.segments().first == "00000000000000000013.seg")
        var read: [UInt64] = []
        while let record = try await reader.nextIfAvailable() { read.append(record.sequence) }
        // What it still had open it reads to the end; then it goes on with the oldest segment left.
        #expect(read == [2, 3] + Array(13...20))
        #expect(await spool.statistics().gaps == 0)
        await spool.close()
    }

    @Test("the lock still held under our own pid for a moment (a child's inherited copy): the open waits for it")
    func lockHeldByOwnCopy() async throws {
        let directory = try TemporaryDirectory("spool")
        defer { directory.remove() }
        let configuration = SpoolConfiguration(directory: directory.file("spool"))
        await (try await Spool.open(configuration)).close()
        // Another open file description of the lock, locked, as a child started while the spool was open holds it
        // until it closes its inherited descriptors; the file names this process, the last holder.
        let copy = open(directory.file("spool/lock"), O_RDWR)
        #expect(copy >= 0 && flock(copy, LOCK_EX | LOCK_NB) == 0)
        // Released from a thread of its own: on a loaded machine a task could wait past the open's patience.
        Thread.detachNewThread {
            usleep(100_000)
            close(copy)
        }
        let spool = try await Spool.open(configuration)
        await spool.close()
    }

    @Test("a second opener is refused, naming the holder's pid")
    func locking() async throws {
        let directory = try TemporaryDirectory("spool")
        defer { directory.remove() }
        let configuration = SpoolConfiguration(directory: directory.file("spool"))
        let spool = try await Spool.open(configuration)
        do {
            _ = try await Spool.open(configuration)
            Issue.record("a second open succeeded")
        } catch let error as SpoolError {
            #expect(error.kind == .locked(pid: getpid()))
            #expect(error.description.contains("\(getpid())"))
        }
        await spool.close()
        let again = try await Spool.open(configuration)
        await again.close()
    }

    @Test("records too large are refused with a typed error; a closed spool refuses appends")
    func refusals() async throws {
        let directory = try TemporaryDirectory("spool")
        defer { directory.remove() }
        let spool = try await Spool.open(SpoolConfiguration(directory: directory.file("spool"), maxRecordBytes: 1000))
        await #expect(throws: SpoolError.self) { try await spool.append(payload(1, size: 2000)) }
        _ = try await spool.append(payload(1, size: 500))
        await spool.close()
        do {
            _ = try await spool.append(payload(2))
            Issue.record("append after close succeeded")
        } catch let error as SpoolError {
            #expect(error.kind == .closed)
        }
    }

    @Test("saveState and loadState: crash-safe named blobs; a damaged one reads as nil and is quarantined")
    func namedState() async throws {
        let directory = try TemporaryDirectory("spool")
        defer { directory.remove() }
        let configuration = SpoolConfiguration(directory: directory.file("spool"))
        var spool = try await Spool.open(configuration)
        try await spool.saveState("snapshot", [1, 2, 3])
        try await spool.saveState("snapshot", [4, 5])
        #expect(await spool.loadState("missing") == nil)
        await spool.close()
        spool = try await Spool.open(configuration)
        #expect(await spool.loadState("snapshot") == [4, 5])
        let path = directory.file("spool/state/snapshot.state")
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[bytes.count - 1] ^= 0x10
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(await spool.loadState("snapshot") == nil)
        #expect(await spool.statistics().quarantinedRecords == 1)
        await spool.close()
    }
}
