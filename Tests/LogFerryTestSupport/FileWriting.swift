#if canImport(Glibc)
import Glibc
#endif

/// Appends `bytes` to the file at `path` (created when missing), in one `write` per call, as a program writing
/// its log would.
public func appendToFile(_ path: String, _ bytes: [UInt8]) throws {
    let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw HarnessError("open \(path): errno \(errno)") }
    defer { close(fd) }
    try writeAll(fd, bytes[...], path: path)
}

/// Appends the UTF-8 of `text` to the file at `path` (created when missing).
public func appendToFile(_ path: String, _ text: String) throws {
    try appendToFile(path, Array(text.utf8))
}

/// Writes all of `bytes` to `fd` (`path` names it in the error).
public func writeAll(_ fd: Int32, _ bytes: ArraySlice<UInt8>, path: String) throws {
    var offset = bytes.startIndex
    while offset < bytes.endIndex {
        let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n < 0, errno == EINTR { continue }
        guard n > 0 else { throw HarnessError("write \(path): errno \(errno)") }
        offset += n
    }
}
