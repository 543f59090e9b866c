import Glibc

/// Where a spool lives: the machine (its `/etc/machine-id`, or the host name where there is none) and the
/// spool's absolute path. A spool id names batches forever, so two running spools must never share one; a
/// spool copied with a disk image or `cp -a` is the same bytes in another place, and gets a new id when it is
/// first opened there (Docs/SPOOL.md, "Identity").
struct SpoolIdentity: Equatable {
    var machine: String
    var path: String

    /// The identity of the spool in `directory` on this machine.
    static func current(directory: String) -> SpoolIdentity {
        SpoolIdentity(machine: machineID(), path: absolutePath(directory))
    }

    /// The file body: the machine, a newline, the path.
    var encoded: [UInt8] { Array((machine + "\n" + path).utf8) }

    init(machine: String, path: String) {
        self.machine = machine
        self.path = path
    }

    init?(decoding body: [UInt8]) {
        let text = String(decoding: body, as: UTF8.self)
        guard let newline = text.firstIndex(of: "\n") else { return nil }
        machine = String(text[..<newline])
        path = String(text[text.index(after: newline)...])
    }

    private static func machineID() -> String {
        for path in ["/etc/machine-id", "/var/lib/dbus/machine-id"] {
            if let bytes = try? POSIXFile.readWholeFile(path) {
                let id = String(decoding: bytes, as: UTF8.self).trimmingSpaces()
                if !id.isEmpty { return id }
            }
        }
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, name.count - 1)
        return "host:" + name.withUnsafeBufferPointer { $0.baseAddress.map { String(cString: $0) } ?? "" }
    }

    private static func absolutePath(_ directory: String) -> String {
        guard let resolved = realpath(directory, nil) else { return directory }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        var scalars = Substring(self)
        while let last = scalars.last, last == "\n" || last == " " || last == "\r" || last == "\t" { scalars.removeLast() }
        return String(scalars)
    }
}
