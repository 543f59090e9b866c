import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Every child process of one test. `killAll()` (``FerryScene`` calls it, or call it in a `defer`) leaves nothing
/// running whatever path the test took; ``stopGracefully(_:timeout:)`` is the orderly end of one child.
public final class ChildProcesses: @unchecked Sendable {
    private let lock = NSLock()
    private var children: [LogFerryProcess] = []
    private var others: [ChildProcess] = []

    /// No children yet.
    public init() {}

    /// Remembers a `logferry` child.
    @discardableResult
    public func track(_ child: LogFerryProcess) -> LogFerryProcess {
        lock.withLock { children.append(child) }
        return child
    }

    /// Remembers any other child.
    public func track(_ child: ChildProcess) {
        lock.withLock { others.append(child) }
    }

    /// SIGKILLs every child still alive and waits until each is gone (reaped).
    public func killAll() {
        let (children, others) = lock.withLock { (self.children, self.others) }
        for child in children { child.signal(SIGKILL) }
        for child in others { child.signal(SIGKILL) }
        for child in children { child.waitBlocking() }
        for child in others { _ = child.waitBlocking() }
    }
}
