import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What the page cache holds of a file: how tests see that a file sink drops its durable output pages.
public enum PageCache {
    /// Pages of the file at `path` in the page cache (mincore over a read-only mapping, which faults nothing in).
    public static func residentPages(_ path: String) throws -> Int {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw HarnessError("cannot open \(path): errno \(errno)") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw HarnessError("cannot stat \(path): errno \(errno)") }
        let size = Int(info.st_size)
        guard size > 0 else { return 0 }
        guard let map = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), map != MAP_FAILED else {
            throw HarnessError("cannot map \(path): errno \(errno)")
        }
        defer { munmap(map, size) }
        let page = Int(getpagesize())
        var vector = [UInt8](repeating: 0, count: (size + page - 1) / page)
        guard mincore(map, size, &vector) == 0 else { throw HarnessError("mincore on \(path): errno \(errno)") }
        return vector.filter { $0 & 1 == 1 }.count
    }

    /// Whether the file system of `directory` drops clean pages on request (tmpfs keeps them): a probe file,
    /// written, synced and advised away with the plain calls.
    public static func dropsPages(in directory: String) -> Bool {
        let path = directory + "/logferry-drop-probe-\(getpid())-\(UUID().uuidString)"
        defer { unlink(path) }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { return false }
        let bytes = [UInt8](repeating: 1, count: 64 << 10)
        let written = write(fd, bytes, bytes.count) == bytes.count && fdatasync(fd) == 0
            && posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0
        close(fd)
        return written && (try? residentPages(path)) == 0
    }
}
