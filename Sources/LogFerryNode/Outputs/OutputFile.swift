import CLogFerryPOSIX
import Foundation

/// An append-only output file of a file sink, opened with O_APPEND and written with plain write(2).
///
/// Once its lines are durable, the file's pages are dropped from the page cache (unless the sink keeps them):
/// a receiver writes gigabytes that nobody reads back soon, and keeping them pushes out what other programs
/// cache. Writing into recycled pages is also cheaper than growing the cache: on a VM whose freed memory goes
/// back to the host, writing 1 GB costs 0.26 s of system time this way against 1.55 s (Docs/PERFORMANCE.md).
final class OutputFile {
    let path: String
    private(set) var descriptor: Int32
    private(set) var dirty = false
    /// Whether durable pages stay in the page cache (`--keep-outputs-cached`).
    let keepsPagesCached: Bool
    /// The file's length as written so far (it is opened with O_APPEND, so every write lands at the end).
    private var length: Int64
    /// Where the write-back not yet started begins: bytes before it are on their way to the disk.
    private var writebackStart: Int64
    /// Write-back starts once this much is written and not yet on its way, so that a commit's fdatasync finds little
    /// left to write. A commit that writes out tens of MB at once keeps the disk (and, with a journal, the file
    /// system's commits) busy, and every other fsync waits behind it: the spool's group commits, which the acks wait for.
    static let writebackChunk: Int64 = 1 << 20
    /// The file system the file is on (`st_dev`): files on one file system can be made durable together.
    let device: UInt64

    /// Opens (creating when missing) `path`, making its parent directories; a new file or directory is made
    /// durable in its parent directory, so a crash cannot lose a file whose lines were committed.
    init(path: String, keepsPagesCached: Bool = false) throws {
        self.path = path
        self.keepsPagesCached = keepsPagesCached
        let directory = (path as NSString).deletingLastPathComponent
        try Self.makeDirectory(directory)
        let existed = Self.size(of: path) != nil
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw OutputFileError(path: path, operation: "open", errno: errno) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let code = errno
            Glibc.close(fd)
            throw OutputFileError(path: path, operation: "stat", errno: code)
        }
        self.descriptor = fd
        self.device = UInt64(info.st_dev)
        self.length = Int64(info.st_size)
        self.writebackStart = Int64(info.st_size)
        if !existed { try Self.syncDirectory(directory) }
    }

    /// Makes `path` and its missing parents, fsyncing each parent that gained an entry.
    static func makeDirectory(_ path: String) throws {
        var info = stat()
        if stat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else {
                throw OutputFileError(path: path, operation: "use as a directory (it is a file)", errno: ENOTDIR)
            }
            return
        }
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty, parent != path { try makeDirectory(parent) }
        if mkdir(path, 0o755) != 0, errno != EEXIST {
            throw OutputFileError(path: path, operation: "create the directory", errno: errno)
        }
        if !parent.isEmpty { try syncDirectory(parent) }
    }

    /// The highest `k` for which `path.k` exists (0 when none): rotations already present.
    static func highestRotation(of path: String) -> UInt32 {
        let directory = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent + "."
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return 0 }
        return entries.compactMap { entry in
            entry.hasPrefix(name) ? UInt32(entry.dropFirst(name.count)) : nil
        }.max() ?? 0
    }

    /// Checks that the sink can create and write files under `directory`, with an error that names the
    /// path and the fix.
    static func checkWritable(_ directory: String) throws {
        try makeDirectory(directory)
        guard access(directory, W_OK | X_OK) == 0 else {
            throw OutputFileError(path: directory, operation: "write into the output directory", errno: errno)
        }
    }

    deinit {
        if descriptor >= 0 { Glibc.close(descriptor) }
    }

    /// Appends all of `bytes`, retrying short writes.
    func write(_ bytes: [UInt8]) throws {
        var offset = 0
        try bytes.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            while offset < buffer.count {
                let n = Glibc.write(descriptor, base + offset, buffer.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw OutputFileError(path: path, operation: "write", errno: errno)
                }
                offset += n
            }
        }
        dirty = true
        length += Int64(bytes.count)
        if length - writebackStart >= Self.writebackChunk {
            // Advice to the kernel: a failure only leaves the work to the next fdatasync.
            _ = logferry_start_writeback(descriptor, writebackStart, length - writebackStart)
            writebackStart = length
        }
    }

    /// Makes the written bytes durable.
    func sync() throws {
        guard dirty else { return }
        guard fdatasync(descriptor) == 0 else { throw OutputFileError(path: path, operation: "fdatasync", errno: errno) }
        markDurable()
    }

    /// Notes that everything written is durable, and drops the file's now clean pages from the page cache unless
    /// they are kept. Dropping is advice: a failure changes nothing and is ignored.
    private func markDurable() {
        dirty = false
        if !keepsPagesCached { _ = posix_fadvise(descriptor, 0, 0, POSIX_FADV_DONTNEED) }
    }

    /// Makes every dirty file in `files` durable: fdatasync(2) each, or, where at least `together` of them share a
    /// file system, one syncfs(2) for that file system. A receiver of a thousand hosts would otherwise wait for a
    /// thousand journal commits, one after the other, at every commit.
    static func sync(_ files: some Sequence<OutputFile>, together: Int = 16) throws {
        var byDevice: [UInt64: [OutputFile]] = [:]
        for file in files where file.dirty { byDevice[file.device, default: []].append(file) }
        for group in byDevice.values {
            if group.count >= together, let first = group.first {
                // syncfs reports write-back errors of the whole file system since Linux 5.8.
                guard logferry_syncfs(first.descriptor) == 0 else {
                    throw OutputFileError(path: first.path, operation: "syncfs (with \(group.count - 1) other files)", errno: errno)
                }
                for file in group { file.markDurable() }
            } else {
                for file in group { try file.sync() }
            }
        }
    }

    /// Closes the descriptor (after syncing).
    func close() throws {
        try sync()
        if descriptor >= 0 { Glibc.close(descriptor) }
        descriptor = -1
    }

    /// The size of the file at `path`, or nil when it does not exist.
    static func size(of path: String) -> UInt64? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return UInt64(info.st_size)
    }

    /// Cuts the file at `path` back to `length` when it is longer.
    static func truncate(_ path: String, to length: UInt64) throws {
        guard let size = size(of: path), size > length else { return }
        guard Glibc.truncate(path, off_t(length)) == 0 else { throw OutputFileError(path: path, operation: "truncate", errno: errno) }
    }

    /// fsyncs a directory so a rename or create in it is durable.
    static func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw OutputFileError(path: path, operation: "open directory", errno: errno) }
        defer { Glibc.close(fd) }
        guard fsync(fd) == 0 else { throw OutputFileError(path: path, operation: "fsync directory", errno: errno) }
    }
}

/// A file sink's I/O failure, naming the file.
struct OutputFileError: Error, CustomStringConvertible {
    /// The file.
    var path: String
    /// What was being done.
    var operation: String
    /// The error number.
    var errno: Int32

    /// An operator-facing description.
    var description: String {
        "file sink cannot \(operation) \(path): \(String(cString: strerror(errno))). Check the disk space and permissions of the output directory (the node's user must be able to write there, e.g. chown it to that user); nothing is lost, the batches wait in the spool and the sink retries."
    }
}
