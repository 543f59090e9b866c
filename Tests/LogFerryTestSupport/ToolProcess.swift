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
    public let process: ChildProcess
    private let executableName: String
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
        executableName = executable
        stdoutPath = outputPrefix + ".stdout"
        stderrPath = outputPrefix + ".stderr"
        let input: ChildProcess.Stream = pipeStdin ? .pipe : stdinFile.map { .file($0) } ?? .null
        process = try ChildProcess(
            executable, arguments, standardInput: input, standardOutput: .file(stdoutPath), standardError: .file(stderrPath)
        )
        children.track(process)
    }

    /// Writes to the child's standard input (a pipe), from a background thread so a full pipe cannot block the
    /// test's executor; `close` closes it afterwards.
    public func writeStdin(_ data: Data, close: Bool) async {
        guard let descriptor = process.standardInput else { return }
        let name = executableName
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                // A child that exited early makes the write fail; the test sees that in the child's exit and output.
                try? writeAll(descriptor, Array(data)[...], path: "the standard input of \(name)")
                if close { Glibc.close(descriptor) }
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
            process.signal(SIGKILL)
        }
        defer { watchdog.cancel() }
        guard case .exited(let status) = await process.wait() else { return nil }
        return status
    }

    /// Sends a signal if the child still runs.
    public func signal(_ signal: Int32) {
        process.signal(signal)
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
