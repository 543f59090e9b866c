import Foundation
import LogFerryTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import LogFerryNode

/// copytruncate under a glob that matches the copies: the copy is recognised by the fingerprint of its first bytes
/// and continued at the offset already read; compressed rotations are skipped; `excludes` keeps files out.
@Suite("File tailer: copies and compressed rotations")
struct FileTailerCopyTests {
    /// `"line NNNN\n"` for each number: 10 bytes a line, so 64 fingerprint bytes are 6.4 lines.
    static func lines(_ range: Range<Int>) -> String {
        range.map { "line " + String(repeating: "0", count: max(0, 4 - String($0).count)) + String($0) + "\n" }.joined()
    }

    static func texts(_ range: Range<Int>) -> [String] {
        lines(range).split(separator: "\n").map(String.init)
    }

    static func configuration(_ dir: TemporaryDirectory, excludes: [String] = []) -> FileTailerConfiguration {
        FileTailerConfiguration(patterns: [dir.file("app.log*")], excludes: excludes, fingerprintBytes: 64)
    }

    @Test("copytruncate: the copy continues at the offset read, and the lines written before the truncation are read from it once")
    func copyContinuesAtOffset() throws {
        let dir = try TemporaryDirectory("copy")
        defer { dir.remove() }
        let path = dir.file("app.log")
        try appendToFile(path, Self.lines(0..<20))
        let clock = ManualClock()
        let tailer = FileTailer.forTesting(Self.configuration(dir), clock: clock)
        #expect(tailer.poll(maxLines: 100, maxBytes: 1 << 20).texts == Self.texts(0..<20))

        // Written after the last read and before the truncation: only the copy has them.
        try appendToFile(path, Self.lines(20..<25))
        try FileManager.default.copyItem(atPath: path, toPath: dir.file("app.log.1"))
        #expect(truncate(path, 0) == 0)
        try appendToFile(path, Self.lines(25..<30))

        let lines = tailer.drain(clock: clock)
        #expect(lines.texts.sorted() == Self.texts(20..<30))
        #expect(lines.filter { $0.path.hasSuffix(".1") }.texts == Self.texts(20..<25))
        #expect(tailer.statistics.copiesContinued == 1)
        let copy = try #require(tailer.checkpoints.first { $0.path.hasSuffix(".1") })
        #expect(copy.offset == 250)
    }

    @Test("a copy seen before the truncation waits for it; the lines the original still gave are not read twice")
    func copySeenBeforeTruncation() throws {
        let dir = try TemporaryDirectory("copy")
        defer { dir.remove() }
        let path = dir.file("app.log")
        try appendToFile(path, Self.lines(0..<20))
        let clock = ManualClock()
        let tailer = FileTailer.forTesting(Self.configuration(dir), clock: clock)
        #expect(tailer.poll(maxLines: 100, maxBytes: 1 << 20).count == 20)

        try appendToFile(path, Self.lines(20..<25))
        try FileManager.default.copyItem(atPath: path, toPath: dir.file("app.log.1"))
        clock.advance(by: .seconds(1))
        // The rescan finds the copy; the original is intact, so the copy waits and the original gives 20..<25.
        #expect(tailer.poll(maxLines: 100, maxBytes: 1 << 20).texts == Self.texts(20..<25))
        #expect(truncate(path, 0) == 0)
        try appendToFile(path, Self.lines(25..<30))
        let lines = tailer.drain(clock: clock)
        #expect(lines.texts == Self.texts(25..<30))
        #expect(tailer.statistics.copiesContinued == 1)
    }

    @Test("a copy of a file that is never truncated (a backup made with cp) is not read again")
    func backupCopy() throws {
        let dir = try TemporaryDirectory("copy")
        defer { dir.remove() }
        let path = dir.file("app.log")
        try appendToFile(path, Self.lines(0..<20))
        let clock = ManualClock()
        let tailer = FileTailer.forTesting(Self.configuration(dir), clock: clock)
        #expect(tailer.poll(maxLines: 100, maxBytes: 1 << 20).count == 20)
        try FileManager.default.copyItem(atPath: path, toPath: dir.file("app.log.bak"))
        try appendToFile(path, Self.lines(20..<22))
        #expect(tailer.drain(clock: clock).texts == Self.texts(20..<22))
        // What is appended to the backup later is new.
        try appendToFile(dir.file("app.log.bak"), "added\n")
        #expect(tailer.drain(clock: clock).texts == ["added"])
    }

    @Test("a copy still shorter than the fingerprint waits for its bytes, then continues at the offset")
    func copyInProgress() throws {
        let dir = try TemporaryDirectory("copy")
        defer { dir.remove() }
        let path = dir.file("app.log")
        let content = Self.lines(0..<20)
        try appendToFile(path, content)
        let clock = ManualClock()
        let tailer = FileTailer.forTesting(Self.configuration(dir), clock: clock)
        #expect(tailer.poll(maxLines: 100, maxBytes: 1 << 20).count == 20)
        try appendToFile(path, Self.lines(20..<22))
        let copy = dir.file("app.log.1")
        let all = Array((content + Self.lines(20..<22)).utf8)
        try appendToFile(copy, Array(all[0..<30]))
        #expect(truncate(path, 0) == 0)
        // The copy has 30 bytes, a prefix of what the truncated file began with: nothing is read from it yet.
        clock.advance(by: .milliseconds(1500))
        #expect(tailer.poll(maxLines: 100, maxBytes: 1 << 20).isEmpty)
        try appendToFile(copy, Array(all[30...]))
        #expect(tailer.poll(maxLines: 100, maxBytes: 1 << 20).texts == Self.texts(20..<22))
        #expect(tailer.drain(clock: clock).isEmpty)
    }

    @Test("copytruncate while the tailer is down: restarted from checkpoints, the copy continues at the checkpoint")
    func copyWhileDown() throws {
        let dir = try TemporaryDirectory("copy")
        defer { dir.remove() }
        let path = dir.file("app.log")
        try appendToFile(path, Self.lines(0..<20))
        let clock = ManualClock()
        var checkpoints: [FileCheckpoint] = []
        do {
            let tailer = FileTailer.forTesting(Self.configuration(dir), clock: clock)
            #expect(tailer.poll(maxLines: 100, maxBytes: 1 << 20).count == 20)
            checkpoints = tailer.checkpoints
        }
        try appendToFile(path, Self.lines(20..<25))
        try FileManager.default.copyItem(atPath: path, toPath: dir.file("app.log.1"))
        #expect(truncate(path, 0) == 0)
        try appendToFile(path, Self.lines(25..<30))
        let tailer = FileTailer.forTesting(Self.configuration(dir), checkpoints: checkpoints, clock: clock)
        #expect(tailer.drain(clock: clock).texts.sorted() == Self.texts(20..<30))
    }

    @Test("a file whose first bytes differ is new and read from 0, even when the glob matches it")
    func unrelatedFile() throws {
        let dir = try TemporaryDirectory("copy")
        defer { dir.remove() }
        try appendToFile(dir.file("app.log"), Self.lines(0..<20))
        let clock = ManualClock()
        let tailer = FileTailer.forTesting(Self.configuration(dir), clock: clock)
        #expect(tailer.poll(maxLines: 100, maxBytes: 1 << 20).count == 20)
        try appendToFile(dir.file("app.log.other"), Self.lines(100..<120))
        #expect(tailer.drain(clock: clock).texts == Self.texts(100..<120))
        #expect(tailer.statistics.copiesContinued == 0)
    }

    @Test("compressed files are told by their magic bytes, skipped, counted once, and not checkpointed")
    func compressedSkipped() throws {
        let dir = try TemporaryDirectory("copy")
        defer { dir.remove() }
        try appendToFile(dir.file("app.log"), "plain\n")
        let junk: [UInt8] = Array("\n\nabc\ndef\n".utf8)
        try appendToFile(dir.file("app.log.1.gz"), [0x1F, 0x8B, 0x08, 0x00] + junk)
        try appendToFile(dir.file("app.log.2.bz2"), Array("BZh9".utf8) + junk)
        try appendToFile(dir.file("app.log.3.xz"), [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00] + junk)
        try appendToFile(dir.file("app.log.4.zst"), [0x28, 0xB5, 0x2F, 0xFD] + junk)
        // Named like a compressed file, but text: read.
        try appendToFile(dir.file("app.log.5.gz"), "text after all\n")
        // One byte of a gzip magic: not decided until more comes.
        try appendToFile(dir.file("app.log.6"), [0x1F])
        let clock = ManualClock()
        let tailer = FileTailer.forTesting(.init(patterns: [dir.file("app.log*")], rescanInterval: .seconds(100)), clock: clock)
        #expect(tailer.poll(maxLines: 100, maxBytes: 1 << 20).texts.sorted() == ["plain", "text after all"])
        try appendToFile(dir.file("app.log.6"), [0x8B, 0x08] + junk)
        clock.advance(by: .seconds(100))
        #expect(tailer.poll(maxLines: 100, maxBytes: 1 << 20).isEmpty)
        clock.advance(by: .seconds(100))
        #expect(tailer.poll(maxLines: 100, maxBytes: 1 << 20).isEmpty)
        #expect(tailer.statistics.compressedSkipped == 5)
        #expect(tailer.checkpoints.map { ($0.path as NSString).lastPathComponent } == ["app.log", "app.log.5.gz"])
        #expect(tailer.openFileCount <= 2)
    }

    @Test("magic byte detection")
    func detection() {
        #expect(CompressedFormat.detect([0x1F, 0x8B, 0x08]) == .compressed(.gzip))
        #expect(CompressedFormat.detect(Array("BZh91AY".utf8)) == .compressed(.bzip2))
        #expect(CompressedFormat.detect(Array("BZhx".utf8)) == .plain)
        #expect(CompressedFormat.detect([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00, 0x00]) == .compressed(.xz))
        #expect(CompressedFormat.detect([0x28, 0xB5, 0x2F, 0xFD]) == .compressed(.zstd))
        #expect(CompressedFormat.detect([0x1F]) == .undecided)
        #expect(CompressedFormat.detect(Array("BZ".utf8)) == .undecided)
        #expect(CompressedFormat.detect([0xFD, 0x37, 0x7A]) == .undecided)
        #expect(CompressedFormat.detect(Array("2026-11-30 hello\n".utf8)) == .plain)
        #expect(CompressedFormat.detect([UInt8]()) == .undecided)
    }

    @Test("excludes keep matching files out: by name without a slash, by path with one")
    func excludes() throws {
        let dir = try TemporaryDirectory("copy")
        defer { dir.remove() }
        try appendToFile(dir.file("app.log"), "kept\n")
        try appendToFile(dir.file("app.log.bak"), "by name\n")
        try appendToFile(dir.file("app.log.old"), "by path\n")
        let clock = ManualClock()
        let tailer = FileTailer.forTesting(
            .init(patterns: [dir.file("app.log*")], excludes: ["*.bak", dir.path + "/*.old"]), clock: clock
        )
        #expect(tailer.drain(clock: clock).texts == ["kept"])
        #expect(tailer.checkpoints.count == 1)
    }
}
