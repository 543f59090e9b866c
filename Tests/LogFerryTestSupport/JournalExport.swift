import Foundation

/// Journal files written without a running journald: `systemd-journal-remote` (Debian package of that name) turns
/// the journal export format into journal files, appending to a file that exists.
///
/// ```swift
/// let entries = JournalExport.numbered(0..<100, boot: boot)
/// try await JournalExport.write(entries, to: dir + "/a.journal", scratch: dir, children: children)
/// ```
public enum JournalExport {
    /// Where Debian installs the tool.
    public static let remoteBinary = "/lib/systemd/systemd-journal-remote"

    /// Whether the tool is installed.
    public static var isAvailable: Bool { FileManager.default.isExecutableFile(atPath: remoteBinary) }

    /// One entry to write.
    public struct Entry: Sendable {
        /// `__REALTIME_TIMESTAMP`, microseconds since the epoch.
        public var realtime: UInt64
        /// `__MONOTONIC_TIMESTAMP`, microseconds since boot.
        public var monotonic: UInt64
        /// `_BOOT_ID`, 32 hex digits.
        public var bootID: String
        /// The fields, in order (`MESSAGE`, `_HOSTNAME`, ...); values may hold newlines or any byte.
        public var fields: [(name: String, value: [UInt8])]

        /// Creates an entry.
        public init(realtime: UInt64, monotonic: UInt64, bootID: String, fields: [(name: String, value: [UInt8])]) {
            self.realtime = realtime
            self.monotonic = monotonic
            self.bootID = bootID
            self.fields = fields
        }

        /// The value of a field as text.
        public func value(_ name: String) -> String? {
            fields.first { $0.name == name }.map { String(decoding: $0.value, as: UTF8.self) }
        }
    }

    /// A random boot id.
    public static func randomBootID() -> String {
        (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }

    /// Microseconds since the epoch now.
    public static func nowMicroseconds() -> UInt64 {
        UInt64(Date().timeIntervalSince1970 * 1_000_000)
    }

    /// The message of entry number `number`: what tests look for in the receiver's output.
    public static func message(_ number: Int) -> String {
        "journal entry \(String(repeating: "0", count: max(0, 7 - String(number).count)))\(number)"
    }

    /// Entries `numbers`, one millisecond apart from `start` (microseconds), each with `MESSAGE` (``message(_:)``),
    /// `_HOSTNAME`, `SYSLOG_IDENTIFIER`, `PRIORITY`, `_SYSTEMD_UNIT` and `_PID` derived from its number.
    public static func numbered(_ numbers: Range<Int>, boot: String, start: UInt64) -> [Entry] {
        numbers.map { number in
            Entry(
                realtime: start + UInt64(number) * 1000,
                monotonic: 1_000_000 + UInt64(number) * 1000,
                bootID: boot,
                fields: [
                    ("MESSAGE", Array(message(number).utf8)),
                    ("_HOSTNAME", Array("jhost\(number % 3)".utf8)),
                    ("SYSLOG_IDENTIFIER", Array("app\(number % 5)".utf8)),
                    ("PRIORITY", Array("\(number % 8)".utf8)),
                    ("_SYSTEMD_UNIT", Array("unit\(number % 2).service".utf8)),
                    ("_PID", Array("\(1000 + number % 7)".utf8)),
                ]
            )
        }
    }

    /// The export format of `entries` (text form for plain values, binary form for values with a newline).
    public static func exportBytes(_ entries: [Entry]) -> [UInt8] {
        var out: [UInt8] = []
        for entry in entries {
            out += Array("__REALTIME_TIMESTAMP=\(entry.realtime)\n__MONOTONIC_TIMESTAMP=\(entry.monotonic)\n_BOOT_ID=\(entry.bootID)\n".utf8)
            for (name, value) in entry.fields {
                if value.contains(0x0A) {
                    out += Array(name.utf8)
                    out.append(0x0A)
                    var length = UInt64(value.count).littleEndian
                    withUnsafeBytes(of: &length) { out += $0 }
                    out += value
                    out.append(0x0A)
                } else {
                    out += Array("\(name)=".utf8) + value
                    out.append(0x0A)
                }
            }
            out.append(0x0A)
        }
        return out
    }

    /// Appends `entries` to the journal file `path` (a name ending in `.journal`, created when missing) with
    /// `systemd-journal-remote`; the export text goes through a file in `scratch`.
    public static func write(_ entries: [Entry], to path: String, scratch: String, children: ChildProcesses) async throws {
        let input = scratch + "/export-\(UUID().uuidString).txt"
        try Data(exportBytes(entries)).write(to: URL(fileURLWithPath: input))
        defer { try? FileManager.default.removeItem(atPath: input) }
        let run = try await ToolProcess.run(
            remoteBinary, ["--output=\(path)", input],
            outputPrefix: input, children: children, timeout: .seconds(60)
        )
        guard run.status == 0 else {
            throw HarnessError("systemd-journal-remote --output=\(path) exited \(run.status.map(String.init) ?? "by a signal"): \(run.stderr)")
        }
        try? FileManager.default.removeItem(atPath: input + ".stdout")
        try? FileManager.default.removeItem(atPath: input + ".stderr")
    }
}
