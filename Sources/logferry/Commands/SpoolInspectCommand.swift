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
            print("  \(segment.name)  \(segment.bytes) bytes")
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

/// JSON for `--json` outputs: sorted keys, pretty-printed.
enum SpoolJSON {
    static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
