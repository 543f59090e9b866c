import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Starting and waiting for child programs without Foundation's races.
///
/// swift-corelibs-foundation's `Process` is not safe to start from several threads at once, nor to wait for with
/// `waitUntilExit()` (which runs a run loop) while another thread starts one: the test process, which runs many
/// suites in parallel, once crashed inside `Process.run()` while another thread sat in `waitUntilExit()`. Every
/// child of the tests is started under one lock, and waited for by polling `isRunning`.
public enum ProcessLaunch {
    private static let lock = NSLock()

    /// Starts `process`, one start at a time across the test process.
    public static func run(_ process: Process) throws {
        lock.lock()
        defer { lock.unlock() }
        try process.run()
    }

    /// Blocks the calling thread until `process` has ended (for helpers that are synchronous anyway).
    public static func waitBlocking(_ process: Process) {
        while process.isRunning { usleep(5_000) }
    }

    /// Waits until `process` has ended without blocking a thread.
    public static func wait(_ process: Process) async {
        while process.isRunning {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }
}
