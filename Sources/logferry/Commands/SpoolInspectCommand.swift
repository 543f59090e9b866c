import ArgumentParser
import Foundation
import LogFerrySpool

/// `logferry spool inspect DIR`: spool id, sequence range, segments, bytes, backlog per cursor, quarantined and
/// dropped counts. Works while a node holds the spool (it takes no lock and writes nothing).
struct SpoolInspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Summarise a spool: id, sequences, segments, cursors and backlog, drops, quarantine."
    )

    @Argument(help: "The spool directory.")
    var directory: String

    @Flag(help: "Print JSON instead of text.")
    var json = false

    @Option(name: .customLong("replay-since"), help: "Also show what --replay-since this RFC 3339 time or duration (e.g. 6h) would send at most.")
    var replaySince: String?

    func run() throws {
        let report: SpoolReport
        do {
            report = try SpoolInspector.inspect(directory: directory)
        } catch {
            throw ValidationError("\(error)")
        }
        if json {
            print(try SpoolJSON.encode(report))
            return
        }
        print("spool       \(report.directory)")
        print("id          \(report.spoolID ?? "unknown")")
        print("sequences   \(report.firstSequence)...\(report.lastSequence)"
            + (report.lastSequence < report.firstSequence ? " (empty)" : ""))
        print("segments    \(report.segments.count), \(report.bytes) bytes")
        for segment in report.segments {
            print("  \(segment.name)  \(segment.bytes) bytes" + (segment.retained ? "  (retained: delivered, kept for replay)" : ""))
        }
        let oldest = report.oldestRetainedWrite.map { "; oldest written \(Self.time($0))" } ?? ""
        print("retained    \(report.retainedBytes) bytes\(oldest)")
        if let replaySince {
            let since = try ConfigValue.replaySince(replaySince, key: "replay-since").instant(now: Date().timeIntervalSince1970)
            let estimate = report.replayEstimate(since: since)
            print("replay      since \(Self.time(since)): at most \(estimate.segments) segment(s), \(estimate.bytes) bytes")
        }
        print("cursors     \(report.cursors.count)")
        for cursor in report.cursors {
            print("  \(cursor.name)  committed \(cursor.committed)  backlog \(cursor.backlog)")
        }
        print("quarantined \(report.quarantined)")
        print("dropped     \(report.droppedBatches) batches, \(report.droppedBytes) bytes")
        print("gaps        \(report.gaps)")
        print("lock        " + (report.lockHolderPID.map { "held by pid \($0)" } ?? "free"))
        for problem in report.problems { print("problem     \(problem)") }
    }
}

extension SpoolInspectCommand {
    /// An RFC 3339 time for seconds since the epoch.
    static func time(_ seconds: Double) -> String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: seconds))
    }
}

/// JSON for `--json` outputs: sorted keys, pretty-printed.
enum SpoolJSON {
    static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
