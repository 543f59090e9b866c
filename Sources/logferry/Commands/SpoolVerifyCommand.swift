import ArgumentParser
import LogFerrySpool

/// `logferry spool verify DIR`: checks every record's CRC32C; exit status 1 when anything is damaged, with each
/// finding named by segment file and byte offset.
struct SpoolVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every record of a spool against its CRC32C (exit status 1 on corruption)."
    )

    @Argument(help: "The spool directory.")
    var directory: String

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func run() throws {
        let report: SpoolVerifyReport
        do {
            report = try SpoolInspector.verify(directory: directory)
        } catch {
            throw ValidationError("\(error)")
        }
        if json {
            print(try SpoolJSON.encode(report))
        } else {
            print("checked \(report.segmentsChecked) segments, \(report.recordsChecked) records, "
                + "\(report.bytesChecked) bytes in \(report.directory)")
            for finding in report.problems {
                print("CORRUPT \(finding.file) offset \(finding.offset) (\(finding.length) bytes) "
                    + "[\(finding.kind)]: \(finding.message)")
            }
            for finding in report.warnings {
                print("warning \(finding.file) offset \(finding.offset) (\(finding.length) bytes) "
                    + "[\(finding.kind)]: \(finding.message)")
            }
            print(report.isCorrupt ? "result: corrupt" : "result: ok")
        }
        if report.isCorrupt { throw ExitCode(1) }
    }
}
