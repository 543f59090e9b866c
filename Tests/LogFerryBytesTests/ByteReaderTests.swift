import Testing
import LogFerryBytes

@Suite("Byte order and the checked reader")
struct ByteReaderTests {
    @Test("big- and little-endian append write the documented byte order")
    func appendOrder() {
        var big: [UInt8] = []
        big.appendBigEndian(UInt32(0x0102_0304))
        big.appendBigEndian(UInt16(0x0506))
        big.appendBigEndian(UInt8(7))
        #expect(big == [1, 2, 3, 4, 5, 6, 7])
        var little: [UInt8] = []
        little.appendLittleEndian(UInt64(0x0102_0304_0506_0708))
        #expect(little == [8, 7, 6, 5, 4, 3, 2, 1])
    }

    @Test("reads back at any offset of arrays, slices and raw buffers")
    func readBack() {
        var bytes: [UInt8] = [0xAA]
        bytes.appendBigEndian(UInt64(0x1122_3344_5566_7788))
        bytes.appendLittleEndian(Int32(-2))
        #expect(bytes.readBigEndian(UInt64.self, at: 1) == 0x1122_3344_5566_7788)
        #expect(bytes.readLittleEndian(Int32.self, at: 9) == -2)
        let slice = bytes[1...]
        #expect(slice.readBigEndian(UInt16.self, at: 1) == 0x1122)
        #expect(slice.readBigEndian(UInt8.self, at: 8) == 0x88)
        bytes.withUnsafeBytes { raw in
            #expect(raw.readBigEndian(UInt32.self, at: 5) == 0x5566_7788)
            #expect(UnsafeRawBufferPointer(rebasing: raw[9...]).readLittleEndian(Int32.self, at: 0) == -2)
        }
        // A collection without contiguous storage takes the byte-by-byte path to the same values.
        let mapped = bytes.lazy.map { $0 }
        #expect(mapped.withContiguousStorageIfAvailable { _ in true } == nil)
        #expect(mapped.readBigEndian(UInt64.self, at: 1) == 0x1122_3344_5566_7788)
        #expect(mapped.readLittleEndian(Int32.self, at: 9) == -2)
    }

    @Test("reads fields in order and throws at the first one the bytes do not hold")
    func readerFields() throws {
        var bytes: [UInt8] = [9]
        bytes.appendBigEndian(UInt32(70_000))
        bytes.appendVarint(3)
        bytes += [0x61, 0x62, 0x63]
        var reader = ByteReader(bytes)
        #expect(try reader.readUInt8() == 9)
        #expect(try reader.readBigEndian(UInt32.self) == 70_000)
        let length = try reader.readVarintLength()
        #expect(Array(try reader.readSlice(count: length)) == [0x61, 0x62, 0x63])
        #expect(reader.isAtEnd && reader.remaining == 0 && reader.offset == bytes.count)
        #expect(throws: ByteDecodingError(.truncated, at: bytes.count)) { try reader.readUInt8() }

        for cut in 0..<bytes.count {
            var short = ByteReader(Array(bytes[..<cut]))
            #expect(throws: ByteDecodingError.self, "cut at \(cut)") {
                _ = try short.readUInt8()
                _ = try short.readBigEndian(UInt32.self)
                _ = try short.readBytes(count: try short.readVarintLength())
            }
        }
    }

    @Test("a length larger than the rest, or negative, is truncated and moves nothing")
    func hostileLengths() {
        var bytes: [UInt8] = []
        bytes.appendVarint(UInt64.max)
        var reader = ByteReader(bytes)
        #expect(throws: ByteDecodingError(.truncated, at: 0)) { try reader.readVarintLength() }
        var other = ByteReader([1, 2, 3])
        #expect(throws: ByteDecodingError(.truncated, at: 0)) { try other.readBytes(count: 4) }
        #expect(throws: ByteDecodingError(.truncated, at: 0)) { try other.readSlice(count: -1) }
        #expect(other.offset == 0)
    }

    @Test("errors say what and where")
    func descriptions() {
        #expect("\(ByteDecodingError(.truncated, at: 12))" == "truncated at byte 12")
        #expect("\(ByteDecodingError(.varintOverflow, at: 3))" == "varint at byte 3 overflows 64 bits")
        #expect("\(ByteDecodingError(.varintNotMinimal, at: 0))" == "varint at byte 0 is not minimally encoded")
    }
}
