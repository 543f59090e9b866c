#if canImport(Glibc)
import Glibc
#endif
import NIOPosix

/// Wakes the tailer when a watched directory changes, using inotify.
///
/// inotify is only a hint that shortens the wait; correctness never depends on it (the tailer rescans every
/// `rescanInterval` anyway). The blocking `poll(2)` runs on a private one-thread pool, never on the Swift concurrency
/// pool; a self-pipe interrupts it on task cancellation.
final class FileChangeWatcher: Sendable {
    private let inotifyDescriptor: CInt
    private let wakeDescriptor: CInt
    private let wakeWriteDescriptor: CInt
    private let pool: NIOThreadPool

    /// Returns nil when inotify is not available (the tailer then sleeps between polls).
    init?() {
        let inotify = inotify_init1(CInt(IN_NONBLOCK | IN_CLOEXEC))
        guard inotify >= 0 else { return nil }
        var pipeEnds: [CInt] = [-1, -1]
        guard pipe(&pipeEnds) == 0 else {
            _ = close(inotify)
            return nil
        }
        for end in pipeEnds {
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
        }
        inotifyDescriptor = inotify
        wakeDescriptor = pipeEnds[0]
        wakeWriteDescriptor = pipeEnds[1]
        pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
    }

    deinit {
        let inotify = inotifyDescriptor
        let wake = wakeDescriptor
        let wakeWrite = wakeWriteDescriptor
        pool.shutdownGracefully { _ in
            _ = close(inotify)
            _ = close(wake)
            _ = close(wakeWrite)
        }
    }

    /// Starts watching a directory for writes, creations, renames and deletions of its entries; returns the watch
    /// descriptor, or nil (e.g. the directory does not exist yet, or the watch limit is reached).
    func watch(directory: String) -> CInt? {
        let mask = UInt32(IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ATTRIB | IN_CLOSE_WRITE)
        let wd = inotify_add_watch(inotifyDescriptor, directory, mask)
        return wd >= 0 ? wd : nil
    }

    /// Stops a watch made by ``watch(directory:)``.
    func unwatch(_ descriptor: CInt) {
        _ = inotify_rm_watch(inotifyDescriptor, descriptor)
    }

    /// Returns when a watched directory changed, `timeoutMilliseconds` passed, or the task was cancelled.
    func wait(timeoutMilliseconds: Int32) async {
        let inotify = inotifyDescriptor
        let wake = wakeDescriptor
        await withTaskCancellationHandler {
            _ = try? await pool.runIfActive {
                var fds = [
                    pollfd(fd: inotify, events: Int16(POLLIN), revents: 0),
                    pollfd(fd: wake, events: Int16(POLLIN), revents: 0),
                ]
                _ = poll(&fds, 2, timeoutMilliseconds)
                Self.drain(inotify)
                Self.drain(wake)
            }
        } onCancel: {
            self.wake()
        }
    }

    /// Interrupts a ``wait(timeoutMilliseconds:)`` in progress (or makes the next one return at once).
    func wake() {
        var one: UInt8 = 1
        _ = write(wakeWriteDescriptor, &one, 1)
    }

    private static func drain(_ descriptor: CInt) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if n <= 0 { return }
        }
    }
}
