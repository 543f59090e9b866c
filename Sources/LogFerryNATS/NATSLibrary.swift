import CNatsLoader

/// The NATS C client library, loaded when the first NATS connection opens (CNatsLoader), so that nodes without
/// NATS neither map it (nor OpenSSL, which it links) nor need it installed.
enum NATSLibrary {
    /// The soname LogFerry was built against, e.g. `libnats.so.3.4`.
    static var soname: String { String(cString: logferry_nats_soname()) }

    /// The Debian package that holds ``soname`` (`libnats.so.3.4` is in `libnats3.4`).
    static var debianPackage: String {
        let prefix = "libnats.so."
        return soname.hasPrefix(prefix) ? "libnats" + soname.dropFirst(prefix.count) : soname
    }

    /// Loads the library once; later calls return at once.
    ///
    /// - Throws: ``NATSError`` of kind `libraryMissing`, with the loader's reason (it names the file: the soname, or
    ///   `LOGFERRY_NATS_LIBRARY` when set), when it cannot be loaded.
    static func load(operation: String) throws(NATSError) {
        var reason = [CChar](repeating: 0, count: 512)
        guard logferry_nats_load(&reason, reason.count) != 0 else { return }
        throw NATSError(kind: .libraryMissing, operation: operation, detail: reason.withUnsafeBufferPointer { $0.baseAddress.map { String(cString: $0) } ?? "" })
    }
}
