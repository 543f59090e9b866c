import Foundation
import LogFerryTestSupport
import Logging
import Testing
@testable import LogFerryNode

#if canImport(Glibc)
import Glibc
#endif

@Suite("FileTailer restarts")
struct FileTailerRestartTests {
    @Test("appends, rotations and crashes at random points: every line is committed exactly once")
    func randomCrashes() throws {
        for seed in UInt64(1)...12 {
            try run(seed: seed)
        }
    }

    func run(seed: UInt64) throws {
        var random = SeededGenerator(seed: seed)
        let dir = try TemporaryDirectory("tail")
        defer { dir.remove() }
        let path = dir.file("app.log")
        // The pattern includes the rotated names: a file created and rotated away between two scans is otherwise never
        // seen (see the FileTailer documentation).
        let configuration = FileTailerConfiguration(
            patterns: [dir.file("app.log*")],
            maxLineBytes: 64,
            partialLineTimeout: .seconds(5),
            idleCloseAfter: .seconds(3),
            readChunkBytes: 512
        )
        let clock = ManualClock()
        // What reached the "spool": lines and, atomically with them, the checkpoints.
        var committed: [String] = []
        var committedCheckpoints = FileCheckpoint.encode([])
        var tailer = FileTailer.forTesting(configuration, clock: clock)
        var next = 0
        var rotations = 0
        for _ in 0..<300 {
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<4:
                let count = Int.random(in: 1...20, using: &random)
                try appendToFile(path, (next..<next + count).map { "line \($0)\n" }.joined())
                next += count
            case 4:
                rotations += 1
                _ = rename(path, dir.file("app.log.\(rotations)"))
            case 5:
                // Crash: lines handed out since the last commit are lost in memory, the checkpoints say where to go on.
                _ = tailer.poll(maxLines: Int.random(in: 1...50, using: &random), maxBytes: 1 << 20)
                tailer = FileTailer.forTesting(configuration, checkpoints: try FileCheckpoint.decode(committedCheckpoints), clock: clock)
            case 6:
                clock.advance(by: .milliseconds(Int64.random(in: 100...4000, using: &random)))
            default:
                let lines = tailer.poll(maxLines: Int.random(in: 1...50, using: &random), maxBytes: 1 << 20)
                committed += lines.texts
                committedCheckpoints = FileCheckpoint.encode(tailer.checkpoints)
            }
        }
        var quiet = 0
        while quiet < 8 {
            let lines = tailer.poll(maxLines: 1000, maxBytes: 1 << 20)
            committed += lines.texts
            if lines.isEmpty {
                quiet += 1
                clock.advance(by: .seconds(1))
            } else {
                quiet = 0
            }
        }
        let numbers = committed.compactMap { Int($0.dropFirst(5)) }
        #expect(numbers.count == committed.count, "seed \(seed): malformed lines")
        #expect(numbers.sorted() == Array(0..<next), "seed \(seed): \(numbers.count) committed of \(next)")
    }
}
