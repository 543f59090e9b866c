import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Every child process of one test. `killAll()` (``FerryScene`` calls it, or call it in a `defer`) leaves nothing
/// running whatever path the test took; ``stopGracefully(_:timeout:)`` is the orderly end of one child.
public final class ChildProcesses: @unchecked Sendable {
    private let lock = NSLock()
    private var pids: [Int32] = []
    private var children: [LogFerryProcess] = []

    /// No children yet.
    public init() {}

    /// Remembers a `logferry` child.
    @discardableResult
    public func track(_ child: LogFerryProcess) -> LogFerryProcess {
        lock.withLock {
            children.append(child)
            pids.append(child.pid)
        }
        return child
    }

    /// Remembers any other child by pid.
    public func track(pid: Int32) {
        lock.withLock { pids.append(pid) }
    }

    /// SIGKILLs every child still alive and waits (briefly) until each is gone.
    public func killAll() {
        let all = lock.withLock { pids }
        for pid in all where kill(pid, 0) == 0 { kill(pid, SIGKILL) }
        // Foundation's Process reaps its children on its own thread; give it a moment.
        for pid in all {
            var waited = 0
            while kill(pid, 0) == 0, waited < 200 {
                usleep(10_000)
                waited += 1
            }
        }
    }
}
