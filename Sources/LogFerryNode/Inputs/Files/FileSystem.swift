#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An `errno` value with its text, for operator-facing messages.
struct SystemError: Error, CustomStringConvertible, Equatable {
    var code: CInt

    var description: String { "\(String(cString: strerror(code))) (errno \(code))" }

    static var current: SystemError { SystemError(code: errno) }
}

/// The few POSIX file calls the tailer makes, with `EINTR` handled and results typed.
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

    static func status(path: String) -> Result<Status, SystemError> {
        var st = stat()
        guard stat(path, &st) == 0 else { return .failure(.current) }
        return .success(Status(st))
    }

    static func status(descriptor: CInt) -> Result<Status, SystemError> {
        var st = stat()
        guard fstat(descriptor, &st) == 0 else { return .failure(.current) }
        return .success(Status(st))
    }

    static func openForReading(path: String) -> Result<CInt, SystemError> {
        while true {
            let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)
            if fd >= 0 { return .success(fd) }
            if errno == EINTR { continue }
            return .failure(.current)
        }
    }

    static func close(descriptor: CInt) {
        _ = Glibc.close(descriptor)
    }

    /// `pread` that retries on `EINTR`; returns the number of bytes read (0 at end of file).
    static func read(descriptor: CInt, into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) -> Result<Int, SystemError> {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return .success(0) }
        while true {
            let n = pread(descriptor, base, buffer.count, off_t(offset))
            if n >= 0 { return .success(n) }
            if errno == EINTR { continue }
            return .failure(.current)
        }
    }

    /// Reads up to `count` bytes at `offset`, fewer at end of file.
    static func read(descriptor: CInt, count: Int, at offset: UInt64) -> Result<[UInt8], SystemError> {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let result = bytes.withUnsafeMutableBytes { raw in
                read(descriptor: descriptor, into: UnsafeMutableRawBufferPointer(rebasing: raw[filled...]), at: offset + UInt64(filled))
            }
            switch result {
            case .success(0): bytes.removeLast(count - filled); return .success(bytes)
            case .success(let n): filled += n
            case .failure(let error): return .failure(error)
            }
        }
        return .success(bytes)
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
