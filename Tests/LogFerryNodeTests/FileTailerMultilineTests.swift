import LogFerryTestSupport
import Logging
import Testing
@testable import LogFerryNode

#if canImport(Glibc)
import Glibc
#endif

@Suite("FileTailer multi-line events")
struct FileTailerMultilineTests {
    static func configuration(_ dir: TemporaryDirectory, timeout: Duration = .seconds(2), maxBytes: Int = 1 << 20) throws -> FileTailerConfiguration {
        var configuration = FileTailerConfiguration(patterns: [dir.file("*.log")], readChunkBytes: 512)
        configuration.multiline = MultilineConfiguration(
            rule: .start(try LineRegex("^(Exception|[0-9]{4}-)")), timeout: timeout, maxBytes: maxBytes
        )
        return configuration
    }

    /// A Java-style stack trace numbered `n`, with `frames` frames and a cause.
    static func trace(_ n: Int, frames: Int) -> [String] {
        ["Exception in thread \"worker-\(n)\" java.lang.IllegalStateException: failure \(n)"]
            + (0..<frames).map { "\tat com.example.Service\(n).method\($0)(Service.java:\($0 + 1))" }
            + ["Caused by: java.io.IOException: cause \(n)", "\t... \(frames) more"]
    }

    @Test("an unfinished event is not handed out, and the checkpoint stays at its start until it is sealed")
    func checkpointAtEventStart() throws {
        let dir = try TemporaryDirectory("multiline")
        defer { dir.remove() }
        let path = dir.file("app.log")
        let clock = ManualClock()
        let configuration = try Self.configuration(dir)
        let first = "2026-11-30 12:00:00 INFO one\n"
        let trace = Self.trace(1, frames: 3)
        // The trace's first half is written; the tailer reads it.
        try appendToFile(path, first + trace[0..<3].map { $0 + "\n" }.joined())
        let tailer = FileTailer.forTesting(configuration, clock: clock)
        #expect(tailer.poll(maxLines: 100, maxBytes: 1 << 20).texts == ["2026-11-30 12:00:00 INFO one"])
        #expect(tailer.checkpoints.map(\.offset) == [UInt64(first.utf8.count)])
        #expect(tailer.poll(maxLines: 100, maxBytes: 1 << 20).isEmpty)

        // A crash here: the new tailer resumes at the trace's start, and the whole trace comes out once.
        try appendToFile(path, trace[3...].map { $0 + "\n" }.joined() + "2026-11-30 12:00:01 INFO two\n")
        let restarted = FileTailer.forTesting(configuration, checkpoints: tailer.checkpoints, clock: clock)
        let lines = restarted.poll(maxLines: 100, maxBytes: 1 << 20)
        #expect(lines.texts == [trace.joined(separator: "\n")])
        let traceEnd = UInt64(first.utf8.count + trace.reduce(0) { $0 + $1.utf8.count + 1 })
        #expect(lines.first?.endOffset == traceEnd)
        #expect(restarted.checkpoints.map(\.offset) == [traceEnd])

        // The last event waits for its timeout; then it ships and the checkpoint reaches the end of the file.
        clock.advance(by: .milliseconds(1900))
        #expect(restarted.poll(maxLines: 100, maxBytes: 1 << 20).isEmpty)
        clock.advance(by: .milliseconds(200))
        #expect(restarted.poll(maxLines: 100, maxBytes: 1 << 20).texts == ["2026-11-30 12:00:01 INFO two"])
        #expect(restarted.checkpoints.map(\.offset) == [traceEnd + 29])
        #expect(restarted.statistics.multilineFlushed == 1)
        #expect(restarted.statistics.multilineEvents == 2)
    }

    @Test("a deleted file's unfinished event ships at once; an over-long event is cut and counted")
    func deletedAndCut() throws {
        let dir = try TemporaryDirectory("multiline")
        defer { dir.remove() }
        let path = dir.file("app.log")
        let clock = ManualClock()
        let tailer = FileTailer.forTesting(try Self.configuration(dir, timeout: .seconds(3600), maxBytes: 100), clock: clock)
        let trace = Self.trace(7, frames: 10)
        try appendToFile(path, trace.map { $0 + "\n" }.joined())
        #expect(tailer.poll(maxLines: 100, maxBytes: 1 << 20).isEmpty)
        #expect(unlink(path) == 0)
        let lines = tailer.poll(maxLines: 100, maxBytes: 1 << 20)
        #expect(lines.count == 1)
        #expect(lines.first?.line == Array(trace.joined(separator: "\n").utf8.prefix(100)))
        #expect(lines.first?.truncated == true)
        #expect(tailer.statistics.multilineCut == 1)
    }

    @Test("traces written in pieces, crashes at random points: every trace is committed exactly once and whole")
    func randomCrashes() throws {
        for seed in UInt64(1)...8 {
            try run(seed: seed)
        }
    }

    func run(seed: UInt64) throws {
        var random = SeededGenerator(seed: seed)
        let dir = try TemporaryDirectory("multiline")
        defer { dir.remove() }
        let path = dir.file("app.log")
        let configuration = try Self.configuration(dir, timeout: .seconds(3600))
        let clock = ManualClock()
        var expected: [String] = []
        var pendingLines: [String] = []
        for n in 0..<120 {
            let trace = n % 3 == 0 ? ["2026-11-30 12:00:00 INFO event \(n)"] : Self.trace(n, frames: Int(random.next() % 6))
            expected.append(trace.joined(separator: "\n"))
            pendingLines += trace
        }
        // What reached the "spool": events and, atomically with them, the checkpoints.
        var committed: [String] = []
        var committedCheckpoints = FileCheckpoint.encode([])
        var tailer = FileTailer.forTesting(configuration, clock: clock)
        while !pendingLines.isEmpty {
            switch random.next() % 6 {
            case 0, 1, 2:
                let count = min(pendingLines.count, Int(1 + random.next() % 7))
                try appendToFile(path, pendingLines.prefix(count).map { $0 + "\n" }.joined())
                pendingLines.removeFirst(count)
            case 3:
                // Crash: what was handed out since the last commit is lost; the checkpoints say where to go on.
                _ = tailer.poll(maxLines: Int(1 + random.next() % 10), maxBytes: 1 << 20)
                tailer = FileTailer.forTesting(configuration, checkpoints: try FileCheckpoint.decode(committedCheckpoints), clock: clock)
            default:
                let lines = tailer.poll(maxLines: Int(1 + random.next() % 10), maxBytes: 1 << 20)
                committed += lines.texts
                committedCheckpoints = FileCheckpoint.encode(tailer.checkpoints)
            }
        }
        var quiet = 0
        while quiet < 4 {
            let lines = tailer.poll(maxLines: 1000, maxBytes: 1 << 20)
            committed += lines.texts
            if lines.isEmpty {
                quiet += 1
                clock.advance(by: .seconds(3601))
            } else {
                quiet = 0
            }
        }
        let same = committed == expected
        #expect(same, "seed \(seed): \(committed.count) events of \(expected.count); first difference at \(String(describing: zip(committed, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset))")
    }
}
