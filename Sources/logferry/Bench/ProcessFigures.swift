import Foundation

/// What a running process uses, read from /proc/PID: resident memory now and at its peak, and open files.
struct ProcessFigures: Sendable {
    /// Resident set size now (VmRSS), bytes.
    var residentBytes: Int
    /// The peak resident set size (VmHWM), bytes.
    var peakResidentBytes: Int
    /// Entries in /proc/PID/fd: sockets, spool and output files, pipes, epoll.
    var openFiles: Int

    /// Reads the figures of process `pid`; nil when it is gone.
    init?(pid: Int32) {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        func kilobytes(_ field: String) -> Int {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }) else { return 0 }
            return (line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0) * 1024
        }
        residentBytes = kilobytes("VmRSS")
        peakResidentBytes = kilobytes("VmHWM")
        openFiles = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0
    }
}
