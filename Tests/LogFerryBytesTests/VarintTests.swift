import Testing
import LogFerryBytes

@Suite("Varint")
struct VarintTests {
    /// Values at every 7-bit group boundary, with the bytes each must encode to.
    static let vectors: [(UInt64, [UInt8])] = [
        (0, [0x00]),
        (1, [0x01]),
        (127, [0x7F]),
        (128, [0x80, 0x01]),
        (300, [0xAC, 0x02]),
        (16_383, [0xFF, 0x7F]),
        (16_384, [0x80, 0x80, 0x01]),
        (UInt64(1) << 63, [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]),
        (UInt64.max, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
    ]

    @Test("encodes to the minimal LEB128 bytes and reads them back")
    func vectorsRoundTrip() throws {
        for (value, expected) in Self.vectors {
            var bytes: [UInt8] = []
            bytes.appendVarint(value)
            #expect(bytes == expected, "\(value)")
            #expect(bytes.count <= Varint.maxBytes)
            var offset = 0
            #expect(try Varint.read(from: bytes, at: &offset) == value)
            #expect(offset == bytes.count)
        }
    }

    @Test("writing into a raw buffer gives the same bytes as appending, at any index, and says where it ended")
    func writeIntoBuffer() {
        for (value, expected) in Self.vectors {
            for start in [0, 3] {
                var buffer = [UInt8](repeating: 0xEE, count: start + Varint.maxBytes + 2)
                let end = buffer.withUnsafeMutableBytes { Varint.write(value, into: $0, at: start) }
                #expect(end == start + expected.count, "\(value) at \(start)")
                #expect(Array(buffer[start..<end]) == expected, "\(value) at \(start)")
                #expect(buffer[..<start].allSatisfy { $0 == 0xEE } && buffer[end...].allSatisfy { $0 == 0xEE })
            }
        }
    }

    @Test("every shift of every group boundary round-trips")
    func boundaries() throws {
        for shift in 0..<64 {
            for value in [UInt64(1) << shift, (UInt64(1) << shift) &- 1, (UInt64(1) << shift) &+ 1] {
                var reader = ByteReader({ var b: [UInt8] = []; b.appendVarint(value); return b }())
                #expect(try reader.readVarint() == value)
                #expect(reader.isAtEnd)
            }
        }
    }

    @Test("non-minimal encodings are refused")
    func nonMinimal() {
        for bytes: [UInt8] in [[0x80, 0x00], [0x81, 0x00], [0xFF, 0x80, 0x00], [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]] {
            var offset = 0
            #expect(throws: ByteDecodingError(.varintNotMinimal, at: 0), "\(bytes)") { try Varint.read(from: bytes, at: &offset) }
            #expect(offset == 0, "the offset stays where the varint starts")
        }
    }

    @Test("more than 64 bits is refused: a 10th byte above 1, or an 11th byte")
    func overflow() {
        let tooBig: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02]
        let eleven: [UInt8] = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x81, 0x01]
        for bytes in [tooBig, eleven] {
            var offset = 0
            #expect(throws: ByteDecodingError(.varintOverflow, at: 0)) { try Varint.read(from: bytes, at: &offset) }
        }
    }

    @Test("a varint cut short is truncated, reported at its start")
    func truncated() throws {
        for bytes: [UInt8] in [[], [0x80], [0xFF, 0xFF]] {
            var reader = ByteReader([0x05] + bytes)
            #expect(try reader.readUInt8() == 5)
            #expect(throws: ByteDecodingError(.truncated, at: 1)) { try reader.readVarint() }
        }
    }

    @Test("reads from a slice and a raw buffer by their own indices")
    func otherCollections() throws {
        let bytes: [UInt8] = [0xEE, 0xEE, 0xAC, 0x02, 0x7F]
        let slice = bytes[2...]
        var index = slice.startIndex
        #expect(try Varint.read(from: slice, at: &index) == 300)
        #expect(try Varint.read(from: slice, at: &index) == 127)
        #expect(index == bytes.count)
        let (value, offset) = bytes.withUnsafeBytes { raw -> (UInt64?, Int) in
            var reader = ByteReader(UnsafeRawBufferPointer(rebasing: raw[2...]))
            return (try? reader.readVarint(), reader.offset)
        }
        #expect(value == 300 && offset == 2)
    }
}
