import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A running `logferry` process for end-to-end tests: spawn it with arguments, read its standard output line by
/// line, signal it, wait for it. Always call `stop()` (or `wait()`) in a `defer`-like path; `deinit` kills a
/// process that is still running so a failing test leaves nothing behind.
final class LogFerryProcess: @unchecked Sendable {
    /// How the process ended.
    enum Exit: Equatable, Sendable {
        case exited(Int32)
        case signalled(Int32)
    }

    /// The process id.
    let pid: Int32
    private let process: Process
    private let lineStream: AsyncStream<String>
    private var iterator: AsyncStream<String>.AsyncIterator
    private let stderrPath: String?

    /// The `logferry` executable built next to the test bundle (`.build/debug/logferry`), or `$LOGFERRY_BINARY`.
    static var binaryPath: String {
        if let override = ProcessInfo.processInfo.environment["LOGFERRY_BINARY"] { return override }
        var candidates: [URL] = []
        let argument0 = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        candidates.append(argument0.deletingLastPathComponent())
        candidates.append(Bundle.main.bundleURL)
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent())
        for directory in candidates {
            let path = directory.appendingPathComponent("logferry").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        // Fall back to the package layout: <package>/.build/debug/logferry.
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        return package.appendingPathComponent(".build/debug/logferry").path
    }

    /// Starts `logferry` with `arguments`. Standard error goes to `stderrPath` when given (else is discarded).
    init(_ arguments: [String], environment: [String: String]? = nil, stderrPath: String? = nil) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binaryPath)
        process.arguments = arguments
        if let environment {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardInput = FileHandle.nullDevice
        if let stderrPath {
            _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
            process.standardError = FileHandle(forWritingAtPath: stderrPath)
        } else {
            process.standardError = FileHandle.nullDevice
        }
        let (stream, continuation) = AsyncStream<String>.makeStream()
        let reader = stdout.fileHandleForReading
        try process.run()
        self.process = process
        self.pid = process.processIdentifier
        self.lineStream = stream
        self.iterator = stream.makeAsyncIterator()
        self.stderrPath = stderrPath
        // One thread per process reads standard output and splits it into lines.
        Thread.detachNewThread {
            var pending = [UInt8]()
            while true {
                let chunk = reader.availableData
                if chunk.isEmpty { break }
                pending.append(contentsOf: chunk)
                while let newline = pending.firstIndex(of: 0x0A) {
                    continuation.yield(String(decoding: pending[..<newline], as: UTF8.self))
                    pending.removeSubrange(...newline)
                }
            }
            if !pending.isEmpty { continuation.yield(String(decoding: pending, as: UTF8.self)) }
            continuation.finish()
        }
    }

    /// The next whole line of standard output; `nil` once the process closed it.
    func nextLine() async -> String? {
        await iterator.next()
    }

    /// Reads lines until one satisfies `predicate` (returned) or output ends (`nil`), passing each to `each`.
    func readLines(until predicate: (String) -> Bool, each: (String) -> Void = { _ in }) async -> String? {
        while let line = await nextLine() {
            each(line)
            if predicate(line) { return line }
        }
        return nil
    }

    /// Every remaining line of standard output (waits for the process to close it).
    func remainingLines() async -> [String] {
        var lines: [String] = []
        while let line = await nextLine() { lines.append(line) }
        return lines
    }

    /// Sends a signal (SIGKILL, SIGTERM, ...).
    func signal(_ signal: Int32) {
        if process.isRunning { kill(pid, signal) }
    }

    /// Waits for the process to end.
    func wait() async -> Exit {
        let process = self.process
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                process.waitUntilExit()
                continuation.resume()
            }
        }
        switch process.terminationReason {
        case .uncaughtSignal: return .signalled(process.terminationStatus)
        default: return .exited(process.terminationStatus)
        }
    }

    /// Kills the process (SIGKILL) if it still runs and waits for it.
    @discardableResult
    func stop() async -> Exit {
        signal(SIGKILL)
        return await wait()
    }

    /// What the process wrote to standard error, when it went to a file.
    var standardError: String {
        guard let stderrPath, let data = FileManager.default.contents(atPath: stderrPath) else { return "" }
        return String(decoding: data, as: UTF8.self)
    }

    /// Runs `logferry` with `arguments` to completion and returns its exit and standard output.
    static func run(_ arguments: [String]) async throws -> (exit: Exit, output: String) {
        let child = try LogFerryProcess(arguments)
        let lines = await child.remainingLines()
        let exit = await child.wait()
        return (exit, lines.joined(separator: "\n"))
    }

    deinit {
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
    }
}
