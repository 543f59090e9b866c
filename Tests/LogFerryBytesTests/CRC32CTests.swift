import LogFerryTestSupport
import Testing
@testable import LogFerryBytes

@Suite("CRC32C")
struct CRC32CTests {
    /// Published vectors: RFC 3720 (iSCSI) appendix B.4 and the common "123456789" check value.
    static let vectors: [([UInt8], UInt32)] = [
        (Array("123456789".utf8), 0xE306_9283),
        ([UInt8](repeating: 0, count: 32), 0x8A91_36AA),
        ([UInt8](repeating: 0xFF, count: 32), 0x62A8_AB43),
        ((0..<32).map { UInt8($0) }, 0x46DD_794E),
        ((0..<32).reversed().map { UInt8($0) }, 0x113F_DB5C),
        ([], 0),
    ]

    @Test("published test vectors (RFC 3720 B.4 and the 123456789 check value), by the CPU and by the tables")
    func publishedVectors() {
        for (input, expected) in Self.vectors {
            #expect(CRC32C.checksum(input) == expected, "input of \(input.count) bytes")
            let table = input.withUnsafeBytes { CRC32C.tableChecksum($0) }
            #expect(table == expected, "table, input of \(input.count) bytes")
        }
    }

    @Test("the CPU instruction and the tables agree on every length and alignment")
    func hardwareAgreesWithTables() {
        var rng = SystemRandomNumberGenerator()
        let data = rng.bytes(4096)
        data.withUnsafeBytes { all in
            for start in 0..<9 {
                for length in [0, 1, 7, 8, 9, 63, 64, 65, 1000, 4096 - start] {
                    let slice = UnsafeRawBufferPointer(rebasing: all[start..<(start + length)])
                    #expect(CRC32C.checksum(slice, continuing: 0x1234_5678) == CRC32C.tableChecksum(slice, continuing: 0x1234_5678))
                }
            }
        }
    }

    @Test("long inputs (three streams joined) agree with the tables, at every alignment and around each block")
    func longInputsAgreeWithTables() {
        var rng = SystemRandomNumberGenerator()
        let data = rng.bytes(100_000)
        let block = 3 * 4096
        data.withUnsafeBytes { all in
            for start in [0, 1, 3, 8] {
                for length in [block - 1, block, block + 1, block + 7, 2 * block, 2 * block + 13, 100_000 - start] {
                    let slice = UnsafeRawBufferPointer(rebasing: all[start..<(start + length)])
                    #expect(
                        CRC32C.checksum(slice, continuing: 0xDEAD_BEEF) == CRC32C.tableChecksum(slice, continuing: 0xDEAD_BEEF),
                        "\(length) bytes at offset \(start)")
                }
            }
        }
    }

    @Test("incremental equals one-shot at every split point")
    func incremental() {
        var rng = SystemRandomNumberGenerator()
        let data = rng.bytes(1031)
        let whole = CRC32C.checksum(data)
        for split in [0, 1, 7, 8, 9, 500, 1030, 1031] {
            let first = CRC32C.checksum(data[0..<split])
            #expect(CRC32C.checksum(data[split...], continuing: first) == whole)
        }
    }

    @Test("slicing-by-8 agrees with the bytewise definition")
    func agreesWithBitwise() {
        func bitwise(_ bytes: [UInt8]) -> UInt32 {
            var c: UInt32 = 0xFFFF_FFFF
            for b in bytes {
                c ^= UInt32(b)
                for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
            }
            return ~c
        }
        for length in 0..<70 {
            let data = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            #expect(CRC32C.checksum(data) == bitwise(data), "length \(length)")
        }
    }
}
