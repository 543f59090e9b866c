import Glibc
import SystemPackage

/// A failed system call: the errno, what was being done and to which path. The spool builds its `SpoolError`s
/// from it; the node's file tailer reports it as it is.
package struct POSIXError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The `errno` value.
    package var code: Int32
    /// The call, e.g. "open" or "fdatasync".
    package var operation: String
    /// The file or directory; empty when the call was given only a descriptor.
    package var path: String

    /// Creates the error of `operation` on `path` that failed with `code`.
    package init(code: Int32, operation: String, path: String) {
        self.code = code
        self.operation = operation
        self.path = path
    }

    /// E.g. "open /var/log/app.log: Permission denied".
    package var description: String {
        let text = POSIXFile.describe(errno: code)
        return path.isEmpty ? "\(operation): \(text)" : "\(operation) \(path): \(text)"
    }

    /// ENOSPC, EFBIG and EDQUOT: the disk or the file size limit is full.
    package var isNoSpace: Bool { code == ENOSPC || code == EFBIG || code == EDQUOT }
}

/// Thin wrappers over the POSIX calls the spool and the file tailer need: EINTR retried, short reads and
/// writes completed, errors thrown as `POSIXError`. File descriptors are plain `Int32`s owned by the caller.
///
/// Opening, closing, positioned reads and writes, `fstat` and `ftruncate` go through swift-system's
/// `FileDescriptor` (which retries EINTR); what it lacks — `pwritev`, `fdatasync`, `fsync`, directories — calls
/// Glibc here.
package enum POSIXFile {
    /// The `strerror` text of `code`.
    package static func describe(errno code: Int32) -> String {
        guard let text = strerror(code) else { return "errno \(code)" }
        return String(cString: text)
    }

    /// Runs a swift-system call, its `Errno` as a ``POSIXError`` of `operation` on `path`.
    private static func systemCall<R>(_ operation: String, _ path: String, _ body: () throws -> R) throws(POSIXError) -> R {
        do {
            return try body()
        } catch {
            throw POSIXError(code: (error as? Errno)?.rawValue ?? EIO, operation: operation, path: path)
        }
    }

    /// Opens `path` with the `open(2)` `flags` (`O_CLOEXEC` always added); `mode` applies when it creates.
    package static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws(POSIXError) -> Int32 {
        try systemCall("open", path) {
            try FileDescriptor.open(
                path,
                FileDescriptor.AccessMode(rawValue: flags & O_ACCMODE),
                options: FileDescriptor.OpenOptions(rawValue: flags & ~O_ACCMODE).union(.closeOnExec),
                permissions: FilePermissions(rawValue: mode)
            ).rawValue
        }
    }

    /// Closes `fd`; an error (the descriptor is gone either way) is ignored.
    package static func close(_ fd: Int32) {
        try? FileDescriptor(rawValue: fd).close()
    }

    /// Writes all of `bytes` at `offset`.
    static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int64, path: String) throws(POSIXError) {
        // Not `FileDescriptor.writeAll`: it would spin on a write that makes no progress; that is EIO here.
        var done = 0
        while done < bytes.count {
            let n = try systemCall("write", path) {
                try FileDescriptor(rawValue: fd).write(
                    toAbsoluteOffset: offset + Int64(done), UnsafeRawBufferPointer(rebasing: bytes[done...]))
            }
            guard n > 0 else { throw POSIXError(code: EIO, operation: "write", path: path) }
            done += n
        }
    }

    /// Writes `parts` back to back at `offset` with one `pwritev` (the rest with plain writes after a short
    /// write), so a record's payload is not copied into a framing buffer first.
    static func write(_ fd: Int32, parts: [[UInt8]], at offset: Int64, path: String) throws(POSIXError) {
        let total = parts.reduce(0) { $0 + $1.count }
        guard total > 0 else { return }
        let written: Int = parts.withUnsafeIOVectors { vectors in
            var n: Int
            repeat {
                n = pwritev(fd, vectors.baseAddress, Int32(vectors.count), off_t(offset))
            } while n < 0 && errno == EINTR
            return n
        }
        if written < 0 { throw POSIXError(code: errno, operation: "write", path: path) }
        guard written < total else { return }
        // Short write (rare: a signal or a nearly full disk): write what is left the slow way.
        var skip = written
        var at = offset + Int64(written)
        for part in parts {
            if skip >= part.count { skip -= part.count; continue }
            let rest = Array(part[skip...])
            skip = 0
            try write(fd, rest, at: at, path: path)
            at += Int64(rest.count)
        }
    }

    static func write(_ fd: Int32, _ bytes: [UInt8], at offset: Int64, path: String) throws(POSIXError) {
        guard !bytes.isEmpty else { return }
        let result: Result<Void, POSIXError> = bytes.withUnsafeBytes { buffer in
            do throws(POSIXError) { try write(fd, buffer, at: offset, path: path); return .success(()) }
            catch { return .failure(error) }
        }
        try result.get()
    }

    /// One `pread` of at most `buffer.count` bytes at `offset`: how many were read, 0 at the end of the file.
    package static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64, path: String) throws(POSIXError) -> Int {
        guard buffer.count > 0 else { return 0 }
        return try systemCall("read", path) { try FileDescriptor(rawValue: fd).read(fromAbsoluteOffset: offset, into: buffer) }
    }

    /// Reads up to `count` bytes at `offset`; fewer only at the end of the file.
    package static func read(_ fd: Int32, count: Int, at offset: Int64, path: String) throws(POSIXError) -> [UInt8] {
        guard count > 0 else { return [] }
        var failure: POSIXError?
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var done = 0
            while done < count {
                do throws(POSIXError) {
                    let n = try read(
                        fd, into: UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(rebasing: buffer[done...])),
                        at: offset + Int64(done), path: path)
                    if n == 0 { break }
                    done += n
                } catch {
                    failure = error
                    break
                }
            }
            initialized = done
        }
        if let failure { throw failure }
        return bytes
    }

    static func size(_ fd: Int32, path: String) throws(POSIXError) -> Int64 {
        try systemCall("stat", path) { try FileDescriptor(rawValue: fd).stat().size }
    }

    static func truncate(_ fd: Int32, to length: Int64, path: String) throws(POSIXError) {
        try systemCall("truncate", path) { try FileDescriptor(rawValue: fd).resize(to: length) }
    }

    /// `fdatasync`: the data and the metadata needed to read it back (the file size).
    static func dataSync(_ fd: Int32, path: String) throws(POSIXError) {
        while fdatasync(fd) != 0 {
            if errno == EINTR { continue }
            throw POSIXError(code: errno, operation: "fdatasync", path: path)
        }
    }

    /// `fsync` of a directory, making created, renamed and removed names durable.
    static func syncDirectory(_ path: String) throws(POSIXError) {
        let fd = try open(path, O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        while fsync(fd) != 0 {
            if errno == EINTR { continue }
            // Some file systems refuse fsync on directories; that is not a lost write.
            if errno == EINVAL || errno == EROFS { return }
            throw POSIXError(code: errno, operation: "fsync", path: path)
        }
    }

    static func readWholeFile(_ path: String) throws(POSIXError) -> [UInt8] {
        let fd = try open(path, O_RDONLY)
        defer { close(fd) }
        let size = try size(fd, path: path)
        return try read(fd, count: Int(size), at: 0, path: path)
    }

    /// Writes a new file through a temporary name, so that it appears whole or not at all (no fsync).
    static func writeWholeFile(_ path: String, _ bytes: [UInt8]) throws(POSIXError) {
        let temporary = path + ".tmp"
        let fd = try open(temporary, O_WRONLY | O_CREAT | O_TRUNC)
        do throws(POSIXError) {
            try write(fd, bytes, at: 0, path: temporary)
        } catch {
            close(fd)
            try? unlink(temporary)
            throw error
        }
        close(fd)
        try rename(temporary, path)
    }

    static func fileExists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    static func fileSize(_ path: String) -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int64(info.st_size)
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    static func makeDirectory(_ path: String) throws(POSIXError) {
        if Glibc.mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw POSIXError(code: errno, operation: "mkdir", path: path)
        }
    }

    /// Makes `path` and any missing parents.
    static func makeDirectories(_ path: String) throws(POSIXError) {
        if isDirectory(path) { return }
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            try makeDirectory(prefix)
            prefix += "/"
        }
    }

    static func unlink(_ path: String) throws(POSIXError) {
        if Glibc.unlink(path) != 0 && errno != ENOENT {
            throw POSIXError(code: errno, operation: "unlink", path: path)
        }
    }

    static func rename(_ from: String, _ to: String) throws(POSIXError) {
        if Glibc.rename(from, to) != 0 {
            throw POSIXError(code: errno, operation: "rename", path: to)
        }
    }

    /// The names in a directory, without `.` and `..`.
    static func listDirectory(_ path: String) throws(POSIXError) -> [String] {
        guard let dir = opendir(path) else { throw POSIXError(code: errno, operation: "opendir", path: path) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}

extension POSIXFile {
    /// The first `count` bytes of a file (fewer when it is shorter).
    static func readWholeFilePrefix(_ path: String, count: Int) throws(POSIXError) -> [UInt8] {
        let fd = try open(path, O_RDONLY)
        defer { close(fd) }
        return try read(fd, count: count, at: 0, path: path)
    }
}

extension Array where Element == [UInt8] {
    /// Calls `body` with an iovec per element, valid for the duration of the call.
    fileprivate func withUnsafeIOVectors<R>(_ body: (UnsafeBufferPointer<iovec>) -> R) -> R {
        func recurse(_ index: Int, _ vectors: inout [iovec]) -> R {
            if index == count { return vectors.withUnsafeBufferPointer(body) }
            return self[index].withUnsafeBytes { bytes in
                vectors.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: bytes.count))
                return recurse(index + 1, &vectors)
            }
        }
        var vectors: [iovec] = []
        vectors.reserveCapacity(count)
        return recurse(0, &vectors)
    }
}
