import ArgumentParser
import Foundation
import LogFerryNode

/// `logferry bench filter`: what a line filter costs per line, with the engine LogFerry uses (glibc POSIX `regexec`,
/// or `memchr`+`memcmp` for plain strings) against Swift `Regex` on the same lines in the same run: the measurement behind
/// the choice of engine (Docs/CONFIGURATION.md, "Filters").
struct FilterBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "filter",
        abstract: "Measure line filter patterns per line: POSIX regexec / memchr+memcmp (what LogFerry uses) against Swift Regex."
    )

    @Option(name: .long, help: "Lines in the corpus.")
    var lines: Int = 100_000

    @Option(name: .long, help: "Passes over the corpus for the POSIX engine.")
    var passes: Int = 5

    func run() throws {
        let corpus = Self.corpus(count: max(1, lines))
        let patterns = [
            "healthcheck", "ERROR|WARN", "^[0-9]{4}-[0-9]{2}-[0-9]{2}T", "user=(alice|bob)", #"^\s+at "#,
        ]
        print("pattern                          engine          ns/line  matches   swift Regex ns/line  ratio")
        for pattern in patterns {
            let regex = try LineRegex(pattern)
            var matches = 0
            let clock = ContinuousClock()
            let posix = clock.measure {
                for _ in 0..<max(1, passes) {
                    for line in corpus where regex.matches(line) { matches += 1 }
                }
            }
            let posixNanoseconds = Self.nanoseconds(posix) / Double(corpus.count * max(1, passes))
            let swiftRegex = try Regex(pattern)
            var swiftMatches = 0
            let swift = clock.measure {
                for line in corpus where String(decoding: line, as: UTF8.self).contains(swiftRegex) { swiftMatches += 1 }
            }
            let swiftNanoseconds = Self.nanoseconds(swift) / Double(corpus.count)
            let engine = regex.isPlainString ? "memchr+memcmp" : "posix regexec"
            print(
                pattern.padding(toLength: 32, withPad: " ", startingAt: 0) + " "
                    + engine.padding(toLength: 14, withPad: " ", startingAt: 0)
                    + String(format: " %8.0f  %7d  %19.0f  %5.1fx", posixNanoseconds, matches / max(1, passes), swiftNanoseconds,
                             swiftNanoseconds / max(posixNanoseconds, 1))
            )
            if swiftMatches != matches / max(1, passes) {
                print("  (the engines disagree on this pattern: \(swiftMatches) matches with Swift Regex)")
            }
        }
    }

    static func nanoseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1e9 + Double(duration.components.attoseconds) / 1e9
    }

    /// Typical application log lines: request logs, debug lines, stack frames, health checks.
    static func corpus(count: Int) -> [[UInt8]] {
        (0..<count).map { i in
            let text: String
            switch i % 4 {
            case 0: text = "2026-11-30T12:00:\(i % 60)Z INFO  [main] com.example.Service - request \(i) handled in \(i % 97) ms user=alice path=/api/v1/items/\(i)"
            case 1: text = "2026-11-30T12:00:\(i % 60)Z DEBUG [worker-\(i % 8)] com.example.Cache - cache miss key=item:\(i) ttl=300"
            case 2: text = "\tat com.example.Service.handle(Service.java:\(i % 500))"
            default: text = "2026-11-30T12:00:\(i % 60)Z WARN  [main] healthcheck GET /healthz 200 \(i % 5) ms"
            }
            return Array(text.utf8)
        }
    }
}
