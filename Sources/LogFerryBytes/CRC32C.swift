import CLogFerryCRC32C

/// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every spool record and every batch.
///
/// Uses the CPU's CRC32C instruction when it has one (x86-64 SSE4.2, ARMv8 CRC; checked once at run time),
/// else table-driven slicing-by-8 (eight bytes per step with eight 256-entry tables). Both give the same
/// results; the tests check each against the published vectors. CRC32C("123456789") == 0xE3069283.
public enum CRC32C {
    /// Whether the CPU instruction is used.
    public static let usesHardware = logferry_crc32c_hardware_available() != 0

    /// Returns the CRC32C of `bytes`, continuing from `crc` (the result of an earlier call) when given.
    @inlinable
    public static func checksum<Bytes: Sequence>(_ bytes: Bytes, continuing crc: UInt32 = 0) -> UInt32
    where Bytes.Element == UInt8 {
        if let result = bytes.withContiguousStorageIfAvailable({ checksum(UnsafeRawBufferPointer($0), continuing: crc) }) {
            return result
        }
        return Array(bytes).withUnsafeBytes { checksum($0, continuing: crc) }
    }

    /// Returns the CRC32C of the bytes in `buffer`, continuing from `crc` when given.
    public static func checksum(_ buffer: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        guard usesHardware, let base = buffer.baseAddress else { return tableChecksum(buffer, continuing: crc) }
        return logferry_crc32c_hardware(crc, base, buffer.count)
    }

    /// The table-driven computation (the fallback, and the reference the tests compare the CPU's against).
    static func tableChecksum(_ buffer: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        var c = ~crc
        let count = buffer.count
        guard count > 0, let base = buffer.baseAddress else { return crc }
        var i = 0
        tables.withUnsafeBufferPointer { t in
            while count - i >= 8 {
                let lo = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt32.self)) ^ c
                let hi = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self))
                c = t[7 &* 256 &+ Int(lo & 0xFF)]
                    ^ t[6 &* 256 &+ Int((lo >> 8) & 0xFF)]
                    ^ t[5 &* 256 &+ Int((lo >> 16) & 0xFF)]
                    ^ t[4 &* 256 &+ Int(lo >> 24)]
                    ^ t[3 &* 256 &+ Int(hi & 0xFF)]
                    ^ t[2 &* 256 &+ Int((hi >> 8) & 0xFF)]
                    ^ t[1 &* 256 &+ Int((hi >> 16) & 0xFF)]
                    ^ t[Int(hi >> 24)]
                i &+= 8
            }
            while i < count {
                c = t[Int((c ^ UInt32(base.load(fromByteOffset: i, as: UInt8.self))) & 0xFF)] ^ (c >> 8)
                i &+= 1
            }
        }
        return ~c
    }

    /// Eight 256-entry tables, built once; table k advances a byte through k further zero bytes.
    private static let tables: [UInt32] = {
        let polynomial: UInt32 = 0x82F6_3B78
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for n in 0..<256 {
            var c = UInt32(n)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ polynomial : c >> 1 }
            t[n] = c
        }
        for n in 0..<256 {
            var c = t[n]
            for k in 1..<8 {
                c = t[Int(c & 0xFF)] ^ (c >> 8)
                t[k * 256 + n] = c
            }
        }
        return t
    }()
}
