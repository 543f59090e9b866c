/// What a tailed file is, independent of its name: the (device, inode) pair plus a fingerprint of its first bytes.
///
/// Inodes are reused: when a log file is deleted, the next file created on that file system may get the same
/// inode number. The fingerprint tells the two apart. It is the 64-bit FNV-1a hash of the first
/// `fingerprintLength` bytes of the file, where `fingerprintLength` is `min(size, fingerprintBytes)` at the time it
/// was taken (``FileTailerConfiguration/fingerprintBytes``, 1024 by default). While a file is shorter than that,
/// the fingerprint is re-taken as it grows, so the identity of a young file changes until it has 1024 bytes.
///
/// A stored identity matches a file on disk when device and inode are equal, the file has at least
/// `fingerprintLength` bytes, and those bytes hash to `fingerprint`. An empty file (`fingerprintLength == 0`)
/// matches any file with the same device and inode.
struct FileIdentity: Hashable, Sendable, Codable {
    /// `st_dev` of the file.
    var device: UInt64
    /// `st_ino` of the file.
    var inode: UInt64
    /// FNV-1a 64 of the first `fingerprintLength` bytes (the FNV offset basis when `fingerprintLength` is 0).
    var fingerprint: UInt64
    /// How many leading bytes `fingerprint` covers.
    var fingerprintLength: UInt32

    /// Makes an identity from its parts.
    init(device: UInt64, inode: UInt64, fingerprint: UInt64, fingerprintLength: UInt32) {
        self.device = device
        self.inode = inode
        self.fingerprint = fingerprint
        self.fingerprintLength = fingerprintLength
    }
}

/// The (device, inode) pair that keys the tailer's state; the fingerprint is checked separately.
struct FileKey: Hashable {
    var device: UInt64
    var inode: UInt64
}

extension FileIdentity {
    var key: FileKey { FileKey(device: device, inode: inode) }
}
