import Foundation
import LogFerryTestSupport
import Logging
import Testing
@testable import LogFerryNode

#if canImport(Glibc)
import Glibc
#endif

@Suite("FileTailer")
struct FileTailerTests {
    @Test("reads complete lines and checkpoints the offset after the last one")
    func readsLines() throws {
        let dir = try TemporaryDirectory("tail")
        defer { dir.remove() }
        let path = dir.file("app.log")
        try appendToFile(path, "alpha\nbeta\r\n\ngamma")
        let clock = ManualClock()
        let tailer = FileTailer.forTesting(.init(patterns: [path]), clock: clock)
        let lines = tailer.poll(maxLines: 100, maxBytes: 1 << 20)
        #expect(lines.texts == ["alpha", "beta", ""])
        #expect(lines.map(\.endOffset) == [6, 12, 13])
        #expect(tailer.checkpoints.map(\.offset) == [13])
        #expect(tailer.checkpoints.first?.path == path)
        try appendToFile(path, "\ndelta\n")
        #expect(tailer.poll(maxLines: 100, maxBytes: 1 << 20).texts == ["gamma", "delta"])
        #expect(tailer.statistics.linesRead == 5)
    }

    @Test("maxLines and maxBytes bound a poll; the rest comes next time")
    func budget() throws {
        let dir = try TemporaryDirectory("tail")
        defer { dir.remove() }
        let path = dir.file("app.log")
        let expected = (0..<1000).map { "line \($0)" }
        try appendToFile(path, expected.map { $0 + "\n" }.joined())
        let tailer = FileTailer.forTesting(.init(patterns: [path], readChunkBytes: 512), clock: ManualClock())
        var got: [String] = []
        while true {
            let lines = tailer.poll(maxLines: 7, maxBytes: 50)
            if lines.isEmpty { break }
            #expect(lines.count <= 7)
            #expect(lines.count == 1 || lines.reduce(0) { $0 + $1.line.count } <= 50)
            got += lines.texts
        }
        #expect(got == expected)
    }

    @Test("a restart from encoded checkpoints neither skips nor re-reads a line")
    func resumesFromCheckpoints() throws {
        let dir = try TemporaryDirectory("tail")
        defer { dir.remove() }
        let path = dir.file("app.log")
        try appendToFile(path, (0..<10).map { "l\($0)\n" }.joined())
        let clock = ManualClock()
        var first: FileTailer? = FileTailer.forTesting(.init(patterns: [dir.file("*.log")]), clock: clock)
        let read = first?.poll(maxLines: 4, maxBytes: 1 << 20) ?? []
        #expect(read.texts == ["l0", "l1", "l2", "l3"])
        let stored = FileCheckpoint.encode(first?.checkpoints ?? [])
        first = nil
        try appendToFile(path, "l10\n")

        let restored = try FileCheckpoint.decode(stored)
        let second = FileTailer.forTesting(.init(patterns: [dir.file("*.log")]), checkpoints: restored, clock: clock)
        #expect(second.checkpoints == restored)
        let rest = second.drain(clock: clock)
        #expect(rest.texts == (4...10).map { "l\($0)" })
    }

    @Test("startAtEnd skips existing content of files without a checkpoint, but not of files that appear later")
    func startAtEnd() throws {
        let dir = try TemporaryDirectory("tail")
        defer { dir.remove() }
        try appendToFile(dir.file("a.log"), "old\n")
        let clock = ManualClock()
        let tailer = FileTailer.forTesting(.init(patterns: [dir.file("*.log")], startAtEnd: true), clock: clock)
        #expect(tailer.poll(maxLines: 10, maxBytes: 1 << 20).isEmpty)
        try appendToFile(dir.file("a.log"), "new\n")
        try appendToFile(dir.file("b.log"), "first\n")
        #expect(tailer.drain(clock: clock).texts.sorted() == ["first", "new"])
    }

    @Test("rename-and-create rotation: the old file is read to its end, the new one from 0")
    func renameRotation() throws {
        let dir = try TemporaryDirectory("tail")
        defer { dir.remove() }
        let path = dir.file("app.log")
        try appendToFile(path, "a1\na2\n")
        let clock = ManualClock()
        let tailer = FileTailer.forTesting(.init(patterns: [path], idleCloseAfter: .seconds(10)), clock: clock)
        #expect(tailer.poll(maxLines: 100, maxBytes: 1 << 20).texts == ["a1", "a2"])
        try appendToFile(path, "a3\na4\n")
        #expect(rename(path, dir.file("app.log.1")) == 0)
        try appendToFile(dir.file("app.log.1"), "a5\n")  // the writer has not reopened yet
        try appendToFile(path, "b1\nb2\n")
        let lines = tailer.drain(clock: clock)
        #expect(lines.texts.sorted() == ["a3", "a4", "a5", "b1", "b2"])
        #expect(lines.filter { $0.line.first == UInt8(ascii: "a") }.texts == ["a3", "a4", "a5"])
        #expect(lines.filter { $0.line.first == UInt8(ascii: "b") }.texts == ["b1", "b2"])
        // The renamed file is forgotten once it has been idle at its end.
        clock.advance(by: .seconds(11))
        #expect(tailer.poll(maxLines: 100, maxBytes: 1 << 20).isEmpty)
        #expect(tailer.checkpoints.map(\.path) == [path])
        #expect(tailer.checkpoints.first?.offset == 6)
    }

    @Test("a rotation while the agent is down: the renamed file is found by inode and read to its end")
    func renameWhileStopped() throws {
        let dir = try TemporaryDirectory("tail")
        defer { dir.remove() }
        let path = dir.file("app.log")
        try appendToFile(path, "a1\n")
        let clock = ManualClock()
        var checkpoints: [FileCheckpoint] = []
        do {
            let tailer = FileTailer.forTesting(.init(patterns: [path]), clock: clock)
            #expect(tailer.poll(maxLines: 100, maxBytes: 1 << 20).texts == ["a1"])
            checkpoints = tailer.checkpoints
        }
        try appendToFile(path, "a2\n")
        #expect(rename(path, dir.file("app.log.1")) == 0)
        try appendToFile(path, "b1\n")
        let tailer = FileTailer.forTesting(.init(patterns: [path]), checkpoints: checkpoints, clock: clock)
        #expect(tailer.drain(clock: clock).texts.sorted() == ["a2", "b1"])
    }

    @Test("plain truncation and copytruncate start the file again at 0")
    func truncation() throws {
        let dir = try TemporaryDirectory("tail")
        defer { dir.remove() }
        let path = dir.file("app.log")
        try appendToFile(path, "one\ntwo\nthree\n")
        let clock = ManualClock()
        let tailer = FileTailer.forTesting(.init(patterns: [path]), clock: clock)
        #expect(tailer.poll(maxLines: 100, maxBytes: 1 << 20).count == 3)

        // copytruncate: copy, truncate, then the writer goes on (shorter than the old offset).
        try FileManager.default.copyItem(atPath: path, toPath: dir.file("app.log.1"))
        #expect(truncate(path, 0) == 0)
        try appendToFile(path, "four\n")
        #expect(tailer.poll(maxLines: 100, maxBytes: 1 << 20).texts == ["four"])
        #expect(tailer.statistics.truncationsDetected == 1)

        // Truncated and rewritten beyond the old offset before the next poll: the first bytes tell.
        #expect(truncate(path, 0) == 0)
        try appendToFile(path, "five is a longer line\nsix\n")
        #expect(tailer.poll(maxLines: 100, maxBytes: 1 << 20).texts == ["five is a longer line", "six"])
        #expect(tailer.statistics.truncationsDetected == 2)
    }

    @Test("a checkpoint whose inode now holds different first bytes is a new file")
    func inodeReuse() throws {
        let dir = try TemporaryDirectory("tail")
        defer { dir.remove() }
        let path = dir.file("app.log")
        try appendToFile(path, "hello\nworld\n")
        var st = stat()
        #expect(stat(path, &st) == 0)
        let clock = ManualClock()
        let matching = FileIdentity(
            device: UInt64(st.st_dev),
            inode: UInt64(st.st_ino),
            fingerprint: FileFingerprint.hash(Array("hello\nworld\n".utf8)),
            fingerprintLength: 12
        )
        var reused = matching
        reused.fingerprint ^= 1

        let resumed = FileTailer.forTesting(
            .init(patterns: [path]),
            checkpoints: [FileCheckpoint(identity: matching, path: path, offset: 6)],
            clock: clock
        )
        #expect(resumed.poll(maxLines: 100, maxBytes: 1 << 20).texts == ["world"])

        let fresh = FileTailer.forTesting(
            .init(patterns: [path]),
            checkpoints: [FileCheckpoint(identity: reused, path: path, offset: 6)],
            clock: clock
        )
        #expect(fresh.poll(maxLines: 100, maxBytes: 1 << 20).texts == ["hello", "world"])
        #expect(fresh.checkpoints.first?.identity == matching)
    }

    @Test("a last line without its newline ships after the timeout; its late newline is dropped")
    func partialLine() throws {
        let dir = try TemporaryDirectory("tail")
        defer { dir.remove() }
        let path = dir.file("app.log")
        try appendToFile(path, "done\nhalf")
        let clock = ManualClock()
        let tailer = FileTailer.forTesting(.init(patterns: [path], partialLineTimeout: .seconds(5)), clock: clock)
        #expect(tailer.poll(maxLines: 100, maxBytes: 1 << 20).texts == ["done"])
        clock.advance(by: .seconds(3))
        try appendToFile(path, "-more")  // growth restarts the wait
        #expect(tailer.poll(maxLines: 100, maxBytes: 1 << 20).isEmpty)
        clock.advance(by: .seconds(3))
        #expect(tailer.poll(maxLines: 100, maxBytes: 1 << 20).isEmpty)
        clock.advance(by: .seconds(3))
        let partial = tailer.poll(maxLines: 100, maxBytes: 1 << 20)
        #expect(partial.texts == ["half-more"])
        #expect(partial.first?.endOffset == 14)
        #expect(tailer.statistics.partialLines == 1)
        try appendToFile(path, "\nnext\n")
        #expect(tailer.poll(maxLines: 100, maxBytes: 1 << 20).texts == ["next"])

        // The same holds after a restart at the checkpoint just after the partial line.
        try appendToFile(path, "tail")
        clock.advance(by: .seconds(6))
        #expect(tailer.poll(maxLines: 100, maxBytes: 1 << 20).isEmpty)  // growth seen now
        clock.advance(by: .seconds(6))
        #expect(tailer.poll(maxLines: 100, maxBytes: 1 << 20).texts == ["tail"])
        let restarted = FileTailer.forTesting(.init(patterns: [path]), checkpoints: tailer.checkpoints, clock: clock)
        try appendToFile(path, "\nlast\n")
        #expect(restarted.poll(maxLines: 100, maxBytes: 1 << 20).texts == ["last"])
    }

    @Test("an over-long line is cut, counted, and its rest skipped")
    func overLongLine() throws {
        let dir = try TemporaryDirectory("tail")
        defer { dir.remove() }
        let path = dir.file("app.log")
        let long = String(repeating: "x", count: 5000)
        try appendToFile(path, "short\n\(long)\nafter\n" + String(repeating: "y", count: 64) + "\n")
        let clock = ManualClock()
        let tailer = FileTailer.forTesting(.init(patterns: [path], maxLineBytes: 64, readChunkBytes: 512), clock: clock)
        let lines = tailer.drain(clock: clock)
        #expect(lines.texts == ["short", String(repeating: "x", count: 64), "after", String(repeating: "y", count: 64)])
        #expect(lines.map(\.truncated) == [false, true, false, false])
        #expect(lines[1].endOffset == UInt64(6 + 5001))
        #expect(tailer.statistics.linesTruncated == 1)
    }

    @Test("a 10 MiB line and binary junk are handled without loss of the surrounding lines")
    func hugeLineAndJunk() throws {
        let dir = try TemporaryDirectory("tail")
        defer { dir.remove() }
        let path = dir.file("app.log")
        var generator = SystemRandomNumberGenerator()
        var junk = generator.bytes(200_000)
        for i in junk.indices where junk[i] == 13 { junk[i] = 0 }  // keep the \r\n rule out of the byte count
        var content = Array("before\n".utf8) + [UInt8](repeating: UInt8(ascii: "z"), count: 10 << 20) + [10]
        content += junk + Array("\nafter\n".utf8)
        try appendToFile(path, content)
        let clock = ManualClock()
        let tailer = FileTailer.forTesting(.init(patterns: [path]), clock: clock)
        let lines = tailer.drain(clock: clock)
        #expect(lines.first?.line == Array("before".utf8))
        #expect(lines.count >= 3)
        #expect(lines[1].line.count == 1 << 20)
        #expect(lines[1].truncated)
        #expect(lines.last?.line == Array("after".utf8))
        let junkLines = lines.dropFirst(2).dropLast()
        let rejoined = Array(junkLines.map(\.line).joined(separator: [10]))
        #expect(rejoined == junk)
        #expect(tailer.checkpoints.first?.offset == UInt64(content.count))
    }

    @Test("a deleted file is read to its end, then closed and forgotten")
    func deletedFile() throws {
        let dir = try TemporaryDirectory("tail")
        defer { dir.remove() }
        let path = dir.file("app.log")
        try appendToFile(path, "1\n2\n3\n")
        let clock = ManualClock()
        let tailer = FileTailer.forTesting(.init(patterns: [dir.file("*.log")]), clock: clock)
        #expect(tailer.poll(maxLines: 1, maxBytes: 1 << 20).texts == ["1"])
        #expect(unlink(path) == 0)
        clock.advance(by: .seconds(2))
        #expect(tailer.poll(maxLines: 100, maxBytes: 1 << 20).texts == ["2", "3"])
        #expect(tailer.checkpoints.isEmpty)
        #expect(tailer.openFileCount == 0)
        #expect(tailer.statistics.filesForgotten == 1)
    }

    @Test("files that appear later under a glob are picked up at the next rescan")
    func globPicksUpNewFiles() throws {
        let dir = try TemporaryDirectory("tail")
        defer { dir.remove() }
        try appendToFile(dir.file("a.log"), "a\n")
        try appendToFile(dir.file("a.txt"), "ignored\n")
        let clock = ManualClock()
        let tailer = FileTailer.forTesting(.init(patterns: [dir.file("*.log")]), clock: clock)
        #expect(tailer.poll(maxLines: 100, maxBytes: 1 << 20).texts == ["a"])
        try appendToFile(dir.file("b.log"), "b\n")
        #expect(tailer.poll(maxLines: 100, maxBytes: 1 << 20).isEmpty)  // before the rescan
        clock.advance(by: .seconds(1))
        #expect(tailer.poll(maxLines: 100, maxBytes: 1 << 20).texts == ["b"])
    }

    @Test("1,000 files with a bounded number of descriptors")
    func thousandFiles() throws {
        let dir = try TemporaryDirectory("tail")
        defer { dir.remove() }
        for f in 0..<1000 {
            try appendToFile(dir.file("f\(f).log"), (0..<5).map { "f\(f) l\($0)\n" }.joined())
        }
        let clock = ManualClock()
        let tailer = FileTailer.forTesting(
            .init(patterns: [dir.file("*.log")], idleCloseAfter: .seconds(2), maxOpenFiles: 64),
            clock: clock
        )
        var got: [String] = []
        var quiet = 0
        while quiet < 3 {
            let lines = tailer.poll(maxLines: 500, maxBytes: 1 << 20)
            #expect(tailer.openFileCount <= 64)
            if lines.isEmpty {
                quiet += 1
                clock.advance(by: .seconds(1))
            } else {
                quiet = 0
            }
            got += lines.texts
        }
        let expected = (0..<1000).flatMap { f in (0..<5).map { "f\(f) l\($0)" } }
        #expect(got.count == expected.count)
        #expect(Set(got) == Set(expected))
        #expect(tailer.checkpoints.count == 1000)
        // Appending to every file after the descriptors were closed: reopened and read at the next rescans.
        for f in 0..<1000 { try appendToFile(dir.file("f\(f).log"), "f\(f) more\n") }
        clock.advance(by: .seconds(1))
        var more: [String] = []
        quiet = 0
        while quiet < 3 {
            let lines = tailer.poll(maxLines: 500, maxBytes: 1 << 20)
            #expect(tailer.openFileCount <= 64)
            if lines.isEmpty {
                quiet += 1
                clock.advance(by: .seconds(1))
            } else {
                quiet = 0
            }
            more += lines.texts
        }
        #expect(Set(more) == Set((0..<1000).map { "f\($0) more" }))
        #expect(more.count == 1000)
    }

    @Test("an unreadable file is logged once and read once it becomes readable")
    func unreadableFile() throws {
        let dir = try TemporaryDirectory("tail")
        defer { dir.remove() }
        let path = dir.file("secret.log")
        try appendToFile(path, "hidden\n")
        #expect(chmod(path, 0o000) == 0)
        let capture = LogCapture()
        let clock = ManualClock()
        let tailer = FileTailer.forTesting(.init(patterns: [path]), clock: clock, logger: capture.logger())
        for _ in 0..<3 {
            let lines = asUnprivilegedUser { tailer.poll(maxLines: 100, maxBytes: 1 << 20) }
            #expect(lines.isEmpty)
            clock.advance(by: .seconds(1))
        }
        #expect(tailer.statistics.openErrors == 3)
        let warnings = capture.lines.filter { $0.contains("cannot open log file") }
        #expect(warnings.count == 1)
        #expect(warnings.first?.contains("Permission denied") == true)
        #expect(warnings.first?.contains(path) == true)
        #expect(chmod(path, 0o644) == 0)
        #expect(tailer.poll(maxLines: 100, maxBytes: 1 << 20).texts == ["hidden"])
    }

    @Test("checkpoint encoding round-trips and rejects malformed bytes with a typed error")
    func checkpointEncoding() throws {
        let checkpoints = [
            FileCheckpoint(
                identity: FileIdentity(device: 2049, inode: 1 << 40, fingerprint: .max, fingerprintLength: 1024),
                path: "/var/log/ünïcode.log",
                offset: 123_456_789_012
            ),
            FileCheckpoint(identity: FileIdentity(device: 0, inode: 0, fingerprint: 0, fingerprintLength: 0), path: "", offset: 0),
        ]
        let bytes = FileCheckpoint.encode(checkpoints)
        #expect(try FileCheckpoint.decode(bytes) == checkpoints)
        #expect(try FileCheckpoint.decode(FileCheckpoint.encode([])) == [])
        for cut in 0..<bytes.count {
            #expect(throws: FileCheckpointDecodingError.self) { try FileCheckpoint.decode(Array(bytes[0..<cut])) }
        }
        #expect(throws: FileCheckpointDecodingError.self) { try FileCheckpoint.decode([2, 0]) }
        #expect(throws: FileCheckpointDecodingError.self) { try FileCheckpoint.decode([1, 0xFF, 0xFF, 0xFF, 0x7F]) }
        #expect(throws: FileCheckpointDecodingError.self) { try FileCheckpoint.decode(bytes + [0]) }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let junk = [1] + generator.bytes(Int.random(in: 0..<64, using: &generator))
            _ = try? FileCheckpoint.decode(junk)
        }
    }

    @Test("waitForChange returns when its task is cancelled")
    func waitHonoursCancellation() async throws {
        let dir = try TemporaryDirectory("tail")
        defer { dir.remove() }
        let pattern = dir.file("*.log")
        let task = Task {
            let tailer = FileTailer(
                configuration: .init(patterns: [pattern], rescanInterval: .seconds(3600)),
                checkpoints: [],
                logger: Logger(label: "test")
            )
            _ = tailer.poll(maxLines: 1, maxBytes: 1)
            await tailer.waitForChange()
            return Task.isCancelled
        }
        task.cancel()
        #expect(await task.value)
    }

    @Test("waitForChange wakes on a write in a watched directory (inotify)")
    func waitWakesOnWrite() async throws {
        let dir = try TemporaryDirectory("tail")
        defer { dir.remove() }
        let path = dir.file("app.log")
        try appendToFile(path, "x\n")
        let tailer = FileTailer(
            configuration: .init(patterns: [path], rescanInterval: .seconds(20)),
            checkpoints: [],
            logger: Logger(label: "test")
        )
        #expect(tailer.poll(maxLines: 10, maxBytes: 1 << 20).texts == ["x"])
        let writer = Task {
            try await Task.sleep(for: .milliseconds(100))
            try appendToFile(path, "y\n")
        }
        await tailer.waitForChange()
        try await writer.value
        #expect(tailer.poll(maxLines: 10, maxBytes: 1 << 20).texts == ["y"])
    }
}

/// Runs `body` with the file-system user id of `nobody` on this thread, so that root cannot read a mode-000 file.
private func asUnprivilegedUser<T>(_ body: () -> T) -> T {
    guard geteuid() == 0, let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setfsuid") else { return body() }
    let setfsuid = unsafeBitCast(symbol, to: (@convention(c) (UInt32) -> Int32).self)
    _ = setfsuid(65534)
    defer { _ = setfsuid(0) }
    return body()
}
