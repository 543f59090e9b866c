import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Any child program (the `logger` tool, `cp`, `setpriv`, or `logferry` fed through a standard input pipe): its
/// standard output and standard error go to files read afterwards, and standard input can be a pipe the test
/// writes or a file.
///
/// Unlike ``LogFerryProcess`` it does not stream standard output line by line; use that one to wait for what a
/// `logferry` process announces while it runs.
public final class ToolProcess: @unchecked Sendable {
    /// The running program.
    public let process: Process
    private let stdinPipe: Pipe?
    /// Where standard output goes: `<outputPrefix>.stdout`.
    public let stdoutPath: String
    /// Where standard error goes: `<outputPrefix>.stderr`.
    public let stderrPath: String

    /// Starts `executable` with `arguments`; standard input is a pipe when `pipeStdin`, else `stdinFile` or nothing.
    /// The child is registered with `children`.
    public init(
        _ executable: String,
        _ arguments: [String],
        pipeStdin: Bool = false,
        stdinFile: String? = nil,
        outputPrefix: String,
        children: ChildProcesses
    ) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        stdoutPath = outputPrefix + ".stdout"
        stderrPath = outputPrefix + ".stderr"
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.standardOutput = FileHandle(forWritingAtPath: stdoutPath)
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        if pipeStdin {
            let pipe = Pipe()
            process.standardInput = pipe
            stdinPipe = pipe
        } else if let stdinFile, let handle = FileHandle(forReadingAtPath: stdinFile) {
            process.standardInput = handle
            stdinPipe = nil
        } else {
            process.standardInput = FileHandle.nullDevice
            stdinPipe = nil
        }
        try ProcessLaunch.run(process)
        self.process = process
        children.track(pid: process.processIdentifier)
    }

    /// Writes to the child's standard input (a pipe), from a background thread so a full pipe cannot block the
    /// test's executor; `close` closes it afterwards.
    public func writeStdin(_ data: Data, close: Bool) async {
        guard let stdinPipe else { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                stdinPipe.fileHandleForWriting.write(data)
                if close { try? stdinPipe.fileHandleForWriting.close() }
                continuation.resume()
            }
        }
    }

    /// Waits for the exit; SIGKILLs the child first when `timeout` passes. Returns the exit status, or nil when it
    /// was killed by a signal.
    public func wait(timeout: Duration) async -> Int32? {
        let process = self.process
        let watchdog = Task {
            try await Task.sleep(for: timeout)
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        defer { watchdog.cancel() }
        await waitForExit(process)
        return process.terminationReason == .exit ? process.terminationStatus : nil
    }

    /// Sends a signal if the child still runs.
    public func signal(_ signal: Int32) {
        if process.isRunning { kill(process.processIdentifier, signal) }
    }

    /// What the child wrote to standard output so far.
    public var standardOutput: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    /// What the child wrote to standard error so far.
    public var standardError: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Runs a tool to completion (with a deadline) and returns its exit status and both outputs.
    public static func run(
        _ executable: String,
        _ arguments: [String],
        outputPrefix: String,
        children: ChildProcesses,
        timeout: Duration = .seconds(30)
    ) async throws -> (status: Int32?, stdout: String, stderr: String) {
        let tool = try ToolProcess(executable, arguments, outputPrefix: outputPrefix, children: children)
        let status = await tool.wait(timeout: timeout)
        return (status, tool.standardOutput, tool.standardError)
    }
}
