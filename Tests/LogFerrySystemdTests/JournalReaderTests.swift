import Foundation
import LogFerrySystemd
import LogFerryTestSupport
import Testing

/// The sd-journal wrapper against journal files that `systemd-journal-remote` writes: reading fields and cursors,
/// resuming after a cursor, a cursor whose file was vacuumed, an invalid cursor, matches, and waiting for entries
/// appended or files added while the reader waits.
@Suite("JournalReader over generated journal files", .serialized, .enabled(if: JournalExport.isAvailable, "systemd-journal-remote is not installed (Debian package systemd-journal-remote)"))
struct JournalReaderTests {
    /// A test directory with a journal directory in it.
    struct Fixture {
        let directory: TemporaryDirectory
        let journals: String
        let children = ChildProcesses()
        let boot = JournalExport.randomBootID()
        let start = JournalExport.nowMicroseconds() - 3_600_000_000

        init(_ label: String) throws {
            directory = try TemporaryDirectory(label)
            journals = directory.file("journal")
            try FileManager.default.createDirectory(atPath: journals, withIntermediateDirectories: true)
        }

        func write(_ numbers: Range<Int>, to name: String) async throws {
            try await JournalExport.write(
                JournalExport.numbered(numbers, boot: boot, start: start), to: journals + "/" + name,
                scratch: directory.path, children: children
            )
        }

        func tearDown() {
            children.killAll()
            directory.remove()
        }
    }

    static func messages(_ entries: [JournalEntry]) -> [String] {
        entries.compactMap { $0.string("MESSAGE") }
    }

    static func expected(_ numbers: Range<Int>) -> [String] {
        numbers.map(JournalExport.message)
    }

    /// Reads until `count` entries or nothing more comes for a while.
    static func readAll(_ reader: JournalReader, count: Int, fields: [String]? = ["MESSAGE"]) async throws -> [JournalEntry] {
        var entries: [JournalEntry] = []
        var idle = 0
        while entries.count < count, idle < 40 {
            let batch = try await reader.next(limit: 7, fields: fields)
            if batch.isEmpty {
                idle += 1
                _ = try await reader.wait(timeout: .milliseconds(250))
            } else {
                idle = 0
                entries += batch
            }
        }
        return entries
    }

    @Test("every entry once, in order, with its fields, time and a cursor that names it")
    func readsEntries() async throws {
        let fixture = try Fixture("journal-read")
        defer { fixture.tearDown() }
        try await fixture.write(0..<40, to: "a.journal")
        try await JournalReader.withReader(.directory(fixture.journals)) { reader in
            #expect(try await reader.seek(after: nil) == .head)
            let entries = try await Self.readAll(reader, count: 40, fields: nil)
            #expect(Self.messages(entries) == Self.expected(0..<40))
            let written = JournalExport.numbered(0..<40, boot: fixture.boot, start: fixture.start)
            for (entry, source) in zip(entries, written) {
                #expect(entry.realtimeMicroseconds == source.realtime)
                for name in ["_HOSTNAME", "SYSLOG_IDENTIFIER", "PRIORITY", "_SYSTEMD_UNIT", "_PID"] {
                    #expect(entry.string(name) == source.value(name), "\(name) of \(source.value("MESSAGE") ?? "")")
                }
                #expect(entry.cursor.contains("i="), "a journal cursor: \(entry.cursor)")
            }
            #expect(Set(entries.map(\.cursor)).count == 40, "cursors are unique")
            // At the end: nothing more, and the last entry is the current one.
            #expect(try await reader.next(limit: 10).isEmpty)
            #expect(try await reader.isCurrent(cursor: entries[39].cursor))
            #expect(try await !reader.isCurrent(cursor: entries[38].cursor))
            // Only the fields asked for.
            #expect(try await reader.usageBytes() ?? 0 > 0)
        }
    }

    @Test("seek after a cursor continues with the next entry; a binary message with a newline reads back whole")
    func resumesAfterCursor() async throws {
        let fixture = try Fixture("journal-resume")
        defer { fixture.tearDown() }
        try await fixture.write(0..<20, to: "a.journal")
        let multiLine = JournalExport.Entry(
            realtime: fixture.start + 20_000, monotonic: 1_020_000, bootID: fixture.boot,
            fields: [("MESSAGE", Array("first line\nsecond line\u{1}".utf8)), ("SYSLOG_IDENTIFIER", Array("multi".utf8))]
        )
        try await JournalExport.write([multiLine], to: fixture.journals + "/a.journal", scratch: fixture.directory.path, children: fixture.children)
        let cursors = try await JournalReader.withReader(.directory(fixture.journals)) { reader in
            _ = try await reader.seek(after: nil)
            return try await Self.readAll(reader, count: 21).map(\.cursor)
        }
        try #require(cursors.count == 21)
        for index in [0, 7, 19] {
            let rest = try await JournalReader.withReader(.directory(fixture.journals)) { reader in
                #expect(try await reader.seek(after: cursors[index]) == .afterCursor)
                return try await Self.readAll(reader, count: 20 - index)
            }
            #expect(Self.messages(rest.dropLast()) == Self.expected((index + 1)..<20), "after entry \(index)")
            #expect(rest.last?.fields["MESSAGE"] == Array("first line\nsecond line\u{1}".utf8))
        }
        // After the very last entry: nothing, until a new one is appended.
        try await JournalReader.withReader(.directory(fixture.journals)) { reader in
            #expect(try await reader.seek(after: cursors[20]) == .afterCursor)
            #expect(try await reader.next(limit: 5).isEmpty)
            try await fixture.write(21..<23, to: "a.journal")
            let more = try await Self.readAll(reader, count: 2)
            #expect(Self.messages(more) == Self.expected(21..<23))
        }
    }

    @Test("a cursor whose file was vacuumed: reading resumes at the first entry after its position still there")
    func staleCursor() async throws {
        let fixture = try Fixture("journal-stale")
        defer { fixture.tearDown() }
        try await fixture.write(0..<10, to: "a.journal")
        try await fixture.write(10..<20, to: "b.journal")
        let cursors = try await JournalReader.withReader(.directory(fixture.journals)) { reader in
            _ = try await reader.seek(after: nil)
            return try await Self.readAll(reader, count: 20).map(\.cursor)
        }
        try #require(cursors.count == 20)
        try FileManager.default.removeItem(atPath: fixture.journals + "/a.journal")
        for index in [4, 9] {
            try await JournalReader.withReader(.directory(fixture.journals)) { reader in
                let outcome = try await reader.seek(after: cursors[index])
                #expect(outcome == .cursorMissing(firstEntryMicroseconds: fixture.start + 10 * 1000), "entry \(index)")
                let rest = try await Self.readAll(reader, count: 10)
                #expect(Self.messages(rest) == Self.expected(10..<20), "after vacuumed entry \(index)")
            }
        }
        // Every file gone: the position stays, and entries written later (after it) are read.
        try FileManager.default.removeItem(atPath: fixture.journals + "/b.journal")
        try await JournalReader.withReader(.directory(fixture.journals)) { reader in
            #expect(try await reader.seek(after: cursors[19]) == .cursorMissing(firstEntryMicroseconds: nil))
            try await fixture.write(20..<25, to: "c.journal")
            let rest = try await Self.readAll(reader, count: 5)
            #expect(Self.messages(rest) == Self.expected(20..<25))
        }
    }

    @Test("no cursor and the tail: only entries written afterwards are read; an empty journal's tail is its head")
    func startsAtTail() async throws {
        let fixture = try Fixture("journal-tail")
        defer { fixture.tearDown() }
        try await JournalReader.withReader(.directory(fixture.journals)) { reader in
            #expect(try await reader.seek(after: nil, otherwise: .tail) == .tail)
            try await fixture.write(0..<3, to: "a.journal")
            #expect(Self.messages(try await Self.readAll(reader, count: 3)) == Self.expected(0..<3))
        }
        try await fixture.write(3..<20, to: "a.journal")
        try await JournalReader.withReader(.directory(fixture.journals)) { reader in
            #expect(try await reader.seek(after: nil, otherwise: .tail) == .tail)
            #expect(try await reader.next(limit: 10).isEmpty, "entries written before are not read")
            try await fixture.write(20..<25, to: "a.journal")
            #expect(Self.messages(try await Self.readAll(reader, count: 5)) == Self.expected(20..<25))
        }
        // A cursor wins over the tail.
        try await JournalReader.withReader(.directory(fixture.journals)) { reader in
            _ = try await reader.seek(after: nil)
            let all = try await Self.readAll(reader, count: 25)
            try #require(all.count == 25)
            try await JournalReader.withReader(.directory(fixture.journals)) { again async throws in
                #expect(try await again.seek(after: all[9].cursor, otherwise: .tail) == .afterCursor)
                #expect(Self.messages(try await Self.readAll(again, count: 15)) == Self.expected(10..<25))
            }
        }
    }

    @Test("an invalid cursor starts at the head")
    func invalidCursor() async throws {
        let fixture = try Fixture("journal-invalid")
        defer { fixture.tearDown() }
        try await fixture.write(0..<5, to: "a.journal")
        try await JournalReader.withReader(.directory(fixture.journals)) { reader async throws in
            #expect(try await reader.seek(after: "not a cursor") == .cursorInvalid)
            #expect(Self.messages(try await Self.readAll(reader, count: 5)) == Self.expected(0..<5))
        }
    }

    @Test("matches: one field's values are alternatives, '+' groups; a malformed match is an error naming it")
    func matches() async throws {
        let fixture = try Fixture("journal-match")
        defer { fixture.tearDown() }
        try await fixture.write(0..<50, to: "a.journal")
        try await JournalReader.withReader(.directory(fixture.journals)) { reader in
            try await reader.addMatch("SYSLOG_IDENTIFIER=app1")
            try await reader.addMatch("SYSLOG_IDENTIFIER=app3")
            try await reader.addMatch("_SYSTEMD_UNIT=unit1.service")
            _ = try await reader.seek(after: nil)
            let want = (0..<50).filter { ($0 % 5 == 1 || $0 % 5 == 3) && $0 % 2 == 1 }.map(JournalExport.message)
            let got = Self.messages(try await Self.readAll(reader, count: want.count))
            #expect(got == want)
            #expect(try await reader.next(limit: 50).isEmpty, "nothing else matches")
        }
        try await JournalReader.withReader(.directory(fixture.journals)) { reader in
            try await reader.addMatch("PRIORITY=0")
            try await reader.addDisjunction()
            try await reader.addMatch("_PID=1001")
            _ = try await reader.seek(after: nil)
            let want = (0..<50).filter { $0 % 8 == 0 || $0 % 7 == 1 }.map(JournalExport.message)
            let got = Self.messages(try await Self.readAll(reader, count: want.count))
            #expect(got == want)
            #expect(try await reader.next(limit: 50).isEmpty, "nothing else matches")
        }
        await #expect(throws: JournalError.self) {
            try await JournalReader.withReader(.directory(fixture.journals)) { reader in
                try await reader.addMatch("no equals sign")
            }
        }
    }

    @Test("wait sees entries appended and files added while it waits, and returns within its timeout otherwise")
    func waitsForChanges() async throws {
        let fixture = try Fixture("journal-wait")
        defer { fixture.tearDown() }
        try await fixture.write(0..<3, to: "a.journal")
        try await JournalReader.withReader(.directory(fixture.journals)) { reader in
            _ = try await reader.seek(after: nil)
            #expect(Self.messages(try await reader.next(limit: 10)) == Self.expected(0..<3))
            // Nothing happens: the wait ends by itself (once the events of the writes before are consumed).
            var quiet = try await reader.wait(timeout: .milliseconds(100))
            for _ in 0..<10 where quiet != .none { quiet = try await reader.wait(timeout: .milliseconds(100)) }
            #expect(quiet == .none)
            // A new file (a rotation) and an append to it, written while the reader waits on its own thread.
            async let written: Void = fixture.write(3..<8, to: "b.journal")
            let rest = try await Self.readAll(reader, count: 5)
            try await written
            #expect(Self.messages(rest) == Self.expected(3..<8))
        }
    }

    @Test("a directory that does not exist or cannot be read is an error that names it")
    func missingDirectory() async throws {
        let fixture = try Fixture("journal-missing")
        defer { fixture.tearDown() }
        let path = fixture.directory.file("no-such-dir")
        do {
            try await JournalReader.withReader(.directory(path)) { reader in
                _ = try await reader.seek(after: nil)
                _ = try await reader.next(limit: 1)
                Issue.record("opened a directory that does not exist")
            }
        } catch let error as JournalError {
            #expect(error.description.contains(path), "\(error)")
        }
    }
}
