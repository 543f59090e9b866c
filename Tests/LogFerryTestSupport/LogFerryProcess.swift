import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A running `logferry` process whose standard output the test reads line by line (its announcements such as
/// `listening on HOST:PORT`, its reports): spawn it with arguments, read, signal it, wait for it.
///
/// Standard input is empty and standard error goes to a file. For any other program, for standard input fed by the
/// test or for output read from files afterwards, use ``ToolProcess``. Always call `stop()` (or `wait()`) in a
/// `defer`-like path, or register the process with ``ChildProcesses``; `deinit` kills a process that is still
/// running so a failing test leaves nothing behind.
public final class LogFerryProcess: @unchecked Sendable {
    /// How the process ended.
    public typealias Exit = ChildProcess.Exit

    /// The process id.
    public let pid: Int32
    private let process: ChildProcess
    private let lineStream: AsyncStream<String>
    private var iterator: AsyncStream<String>.AsyncIterator
    private let stderrPath: String?

    /// The `logferry` executable built next to the test bundle (`.build/debug/logferry`), or `$LOGFERRY_BINARY`.
    public static var binaryPath: String {
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
        return packageRoot() + "/.build/debug/logferry"
    }

    /// Starts `logferry` with `arguments`. Standard error goes to `stderrPath` when given (else is discarded).
    public init(_ arguments: [String], environment: [String: String]? = nil, stderrPath: String? = nil) throws {
        let process = try ChildProcess(
            Self.binaryPath, arguments, environment: environment ?? [:],
            standardOutput: .pipe, standardError: stderrPath.map { .file($0) } ?? .null
        )
        let (stream, continuation) = AsyncStream<String>.makeStream()
        let reader = process.standardOutput ?? -1
        self.process = process
        self.pid = process.pid
        self.lineStream = stream
        self.iterator = stream.makeAsyncIterator()
        self.stderrPath = stderrPath
        // One thread per process reads standard output and splits it into lines.
        Thread.detachNewThread {
            var pending = [UInt8]()
            while true {
                let chunk = readRetryingInterrupts(reader)
                if chunk.isEmpty { break }
                pending.append(contentsOf: chunk)
                while let newline = pending.firstIndex(of: 0x0A) {
                    continuation.yield(String(decoding: pending[..<newline], as: UTF8.self))
                    pending.removeSubrange(...newline)
                }
            }
            if !pending.isEmpty { continuation.yield(String(decoding: pending, as: UTF8.self)) }
            close(reader)
            continuation.finish()
        }
    }

    /// The next whole line of standard output; `nil` once the process closed it.
    public func nextLine() async -> String? {
        await iterator.next()
    }

    /// Reads lines until one satisfies `predicate` (returned) or output ends (`nil`), passing each to `each`.
    public func readLines(until predicate: (String) -> Bool, each: (String) -> Void = { _ in }) async -> String? {
        while let line = await nextLine() {
            each(line)
            if predicate(line) { return line }
        }
        return nil
    }

    /// Every remaining line of standard output (waits for the process to close it).
    public func remainingLines() async -> [String] {
        var lines: [String] = []
        while let line = await nextLine() { lines.append(line) }
        return lines
    }

    /// Sends a signal (SIGKILL, SIGTERM, ...).
    public func signal(_ signal: Int32) {
        process.signal(signal)
    }

    /// Waits for the process to end.
    public func wait() async -> Exit {
        await process.wait()
    }

    /// Blocks the calling thread until the process has ended (for synchronous clean-up paths).
    @discardableResult
    public func waitBlocking() -> Exit {
        process.waitBlocking()
    }

    /// Kills the process (SIGKILL) if it still runs and waits for it.
    @discardableResult
    public func stop() async -> Exit {
        signal(SIGKILL)
        return await wait()
    }

    /// What the process wrote to standard error, when it went to a file.
    public var standardError: String {
        guard let stderrPath, let data = FileManager.default.contents(atPath: stderrPath) else { return "" }
        return String(decoding: data, as: UTF8.self)
    }

    /// Runs `logferry` with `arguments` to completion and returns its exit, standard output and standard error (empty
    /// unless it went to `stderrPath`). With a `timeout`, the process is SIGKILLed when it runs longer.
    public static func run(
        _ arguments: [String],
        stderrPath: String? = nil,
        timeout: Duration? = nil
    ) async throws -> (exit: Exit, output: String, standardError: String) {
        let child = try LogFerryProcess(arguments, stderrPath: stderrPath)
        let watchdog = timeout.map { timeout in
            Task {
                try await Task.sleep(for: timeout)
                child.signal(SIGKILL)
            }
        }
        defer { watchdog?.cancel() }
        let lines = await child.remainingLines()
        let exit = await child.wait()
        return (exit, lines.joined(separator: "\n"), child.standardError)
    }

    // A process still running when the last reference goes is killed and reaped by `ChildProcess`.
}

/// Up to 64 KiB from `descriptor`, retrying a read a signal interrupted; empty at end of file or on an error.
/// (`FileHandle.availableData` traps on EINTR, which a test process spawning many children meets: SIGCHLD.)
public func readRetryingInterrupts(_ descriptor: Int32) -> [UInt8] {
    var buffer = [UInt8](repeating: 0, count: 64 << 10)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if count >= 0 { return Array(buffer[..<count]) }
        if errno != EINTR { return [] }
    }
}
