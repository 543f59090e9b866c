#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import LogFerrySpool

/// The few POSIX file calls the tailer makes, results typed, failures as the spool's ``POSIXError``.
///
/// Opening, closing and reading go through the spool's `POSIXFile` (swift-system underneath, `EINTR` retried);
/// `stat`, `glob` and directory scans, which it has no use for, are here.
enum FileSystem {
    /// The parts of `struct stat` the tailer uses.
    struct Status {
        var key: FileKey
        var size: UInt64
        var linkCount: UInt64
        var isRegularFile: Bool

        init(_ st: stat) {
            key = FileKey(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
            size = UInt64(max(0, st.st_size))
            linkCount = UInt64(st.st_nlink)
            isRegularFile = (st.st_mode & S_IFMT) == S_IFREG
        }
    }

    static func status(path: String) -> Result<Status, POSIXError> {
        var st = stat()
        guard stat(path, &st) == 0 else { return .failure(POSIXError(code: errno, operation: "stat", path: path)) }
        return .success(Status(st))
    }

    static func status(descriptor: CInt) -> Result<Status, POSIXError> {
        var st = stat()
        guard fstat(descriptor, &st) == 0 else { return .failure(POSIXError(code: errno, operation: "fstat", path: "")) }
        return .success(Status(st))
    }

    static func openForReading(path: String) -> Result<CInt, POSIXError> {
        Result { () throws(POSIXError) in try POSIXFile.open(path, O_RDONLY | O_NOCTTY) }
    }

    static func close(descriptor: CInt) {
        POSIXFile.close(descriptor)
    }

    /// One `pread` (`EINTR` retried); returns the number of bytes read (0 at end of file).
    static func read(descriptor: CInt, into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) -> Result<Int, POSIXError> {
        Result { () throws(POSIXError) in try POSIXFile.read(descriptor, into: buffer, at: Int64(offset), path: "") }
    }

    /// Reads up to `count` bytes at `offset`, fewer at end of file.
    static func read(descriptor: CInt, count: Int, at offset: UInt64) -> Result<[UInt8], POSIXError> {
        Result { () throws(POSIXError) in try POSIXFile.read(descriptor, count: count, at: Int64(offset), path: "") }
    }

    /// Paths matching a `glob(3)` pattern, sorted. A pattern without wildcards yields the path if it exists.
    static func glob(_ pattern: String) -> [String] {
        var result = glob_t()
        defer { globfree(&result) }
        guard Glibc.glob(pattern, 0, nil, &result) == 0 else { return [] }
        var paths: [String] = []
        paths.reserveCapacity(Int(result.gl_pathc))
        for i in 0..<Int(result.gl_pathc) {
            if let p = result.gl_pathv[i] { paths.append(String(cString: p)) }
        }
        return paths
    }

    /// Finds a name in `directory` whose directory entry has inode `inode` (no `stat` per entry).
    static func findEntry(in directory: String, inode: UInt64) -> String? {
        guard let dir = opendir(directory) else { return nil }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            guard UInt64(entry.pointee.d_ino) == inode else { continue }
            let name = withUnsafePointer(to: entry.pointee.d_name) { tuple in
                tuple.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: tuple.pointee)) {
                    String(cString: $0)
                }
            }
            if name == "." || name == ".." { continue }
            return directory == "/" ? "/" + name : directory + "/" + name
        }
        return nil
    }

    /// The directory part of a path ("." for a bare name).
    static func directoryName(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[path.startIndex..<slash])
    }

    /// The directory part of a pattern up to its first wildcard, when that prefix is a plain directory name.
    static func staticDirectory(ofPattern pattern: String) -> String? {
        let dir = directoryName(pattern)
        return dir.contains(where: { "*?[{\\".contains($0) }) ? nil : dir
    }
}
