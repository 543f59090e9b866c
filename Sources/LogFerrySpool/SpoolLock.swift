import Glibc

/// The exclusive `flock(2)` on `DIR/lock` that keeps one process per spool.
///
/// The holder writes its pid into the file so that a second opener can name it. The kernel drops the lock when
/// the holder exits, however it exits, so a crash never leaves a stale lock.
final class SpoolLock {
    private var fd: Int32

    init(path: String) throws(SpoolError) {
        let fd: Int32
        do {
            fd = try POSIXFile.open(path, O_RDWR | O_CREAT)
        } catch {
            throw SpoolError(.unusableDirectory, "cannot open the spool lock file \(path): \(error). "
                + "Check that the directory exists and this user may write to it.")
        }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            if code == EINTR { continue }
            let holder = Self.holder(path: path)
            POSIXFile.close(fd)
            if code == EWOULDBLOCK {
                let who = holder.map { "process \($0)" } ?? "another process"
                throw SpoolError(.locked(pid: holder), "the spool \(StateFile.directory(of: path)) is in use by \(who) "
                    + "(lock \(path)); stop that process or give this one another spool directory.")
            }
            throw SpoolError(.unusableDirectory, "cannot lock \(path): \(POSIXFile.describe(errno: code))")
        }
        self.fd = fd
        let pid = Array("\(getpid())\n".utf8)
        try? POSIXFile.truncate(fd, to: 0, path: path)
        try? POSIXFile.write(fd, pid, at: 0, path: path)
    }

    /// The pid written in a lock file, if any.
    static func holder(path: String) -> Int32? {
        guard let bytes = try? POSIXFile.readWholeFile(path) else { return nil }
        let text = String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == "\n" || $0 == " " }).first
        return text.flatMap { Int32($0) }
    }

    /// Releases the lock (closing the descriptor releases the flock).
    func release() {
        if fd >= 0 { POSIXFile.close(fd) }
        fd = -1
    }

    deinit {
        release()
    }
}
