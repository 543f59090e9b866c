import Foundation

/// A `logferry` child process of a benchmark: started with arguments, its stdout lines readable, its CPU time
/// measurable while it runs (from /proc) and after it exits (from the children's rusage).
final class BenchProcess: @unchecked Sendable {
    let process = Process()
    private let lines: AsyncStream<String>
    private let reader: Thread

    /// Starts `logferry ARGUMENTS` (this very executable); stderr goes to `logPath`.
    init(_ arguments: [String], logPath: String) throws {
        process.executableURL = URL(fileURLWithPath: try Self.selfExecutable())
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: logPath)
        let (stream, continuation) = AsyncStream.makeStream(of: String.self)
        lines = stream
        let handle = out.fileHandleForReading
        reader = Thread {
            var pending = Data()
            var buffer = [UInt8](repeating: 0, count: 64 << 10)
            while true {
                // Not `availableData`: it traps on EINTR, and the bench's children send SIGCHLD.
                let count = buffer.withUnsafeMutableBytes { read(handle.fileDescriptor, $0.baseAddress, $0.count) }
                if count < 0, errno == EINTR { continue }
                if count <= 0 { break }
                pending.append(contentsOf: buffer[..<count])
                while let newline = pending.firstIndex(of: 0x0A) {
                    continuation.yield(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
                    pending = Data(pending[(newline + 1)...])
                }
            }
            continuation.finish()
        }
        try process.run()
        reader.start()
    }

    /// The path of the running executable.
    static func selfExecutable() throws -> String {
        try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    }

    /// Waits for a stdout line starting with `prefix` and returns it.
    func waitForLine(prefix: String) async throws -> String {
        for await line in lines where line.hasPrefix(prefix) { return line }
        throw BenchError("logferry \(process.arguments?.first ?? "") exited before printing '\(prefix)'")
    }

    /// The port in a `listening on HOST:PORT` line.
    func listeningPort() async throws -> Int {
        let line = try await waitForLine(prefix: "listening on ")
        guard let port = line.split(separator: ":").last.flatMap({ Int($0) }) else { throw BenchError("no port in '\(line)'") }
        return port
    }

    /// User plus system CPU seconds so far (all threads), while the process runs.
    var cpuSeconds: Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Sends SIGTERM and waits for the exit.
    func stop() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }

    /// CPU seconds of every child reaped so far: the difference across one child's exit is that child's CPU.
    static func reapedChildrenCPU() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_CHILDREN.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }
}

/// A benchmark that could not run.
struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Helpers shared by the node benchmarks.
enum BenchFiles {
    /// Total size of the regular files under `directory`.
    static func totalBytes(_ directory: String) -> Int {
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return 0 }
        var total = 0
        for case let relative as String in walker {
            let attributes = try? FileManager.default.attributesOfItem(atPath: directory + "/" + relative)
            if attributes?[.type] as? FileAttributeType == .typeRegular {
                total += (attributes?[.size] as? Int) ?? 0
            }
        }
        return total
    }

    /// Waits until the files under `directory` hold `bytes` bytes; false after `timeout`.
    static func waitForBytes(_ directory: String, _ bytes: Int, timeout: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if totalBytes(directory) >= bytes { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    /// A fresh temporary directory for one benchmark run.
    static func temporaryDirectory(_ name: String) throws -> String {
        let path = NSTemporaryDirectory() + "logferry-bench-\(name)-\(getpid())"
        try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// "12.3".
    static func format(_ value: Double, _ digits: Int = 1) -> String {
        String(format: "%.\(digits)f", value)
    }
}
