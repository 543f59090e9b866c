/// FNV-1a 64: the fingerprint hash of a file's first bytes. Not cryptographic; it only has to tell two
/// different log files that share an inode apart.
enum FileFingerprint {
    static let offsetBasis: UInt64 = 0xCBF2_9CE4_8422_2325
    static let prime: UInt64 = 0x0000_0100_0000_01B3

    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h = offsetBasis
        for byte in bytes {
            h = (h ^ UInt64(byte)) &* prime
        }
        return h
    }

    static func hash(_ bytes: [UInt8]) -> UInt64 {
        bytes.withUnsafeBytes { hash($0) }
    }
}
