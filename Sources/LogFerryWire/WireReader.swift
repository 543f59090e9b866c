/// A bounds-checked cursor over bytes that every decoder in this module reads through.
///
/// It never reads outside its buffer and never allocates on its own: a hostile length can at worst make a
/// read fail with ``WireError/Kind/truncated``. It lives only inside a `withUnsafeBytes` scope. It depends on nothing but the standard library, so the
/// fuzzer can compile it without NIO.
struct WireReader {
    private let bytes: UnsafeRawBufferPointer
    /// The offset of the next byte to read.
    private(set) var offset: Int = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// How many bytes are left to read.
    var remaining: Int { bytes.count &- offset }

    /// Whether every byte has been read.
    var isAtEnd: Bool { offset == bytes.count }

    /// Throws ``WireError/Kind/trailingData`` unless every byte has been read.
    func expectEnd() throws(WireError) {
        guard isAtEnd else { throw WireError(.trailingData) }
    }

    mutating func readUInt8() throws(WireError) -> UInt8 {
        guard remaining >= 1 else { throw WireError(.truncated) }
        defer { offset &+= 1 }
        return bytes[offset]
    }

    /// Reads a big-endian fixed-width integer.
    mutating func readInteger<T: FixedWidthInteger>(as: T.Type = T.self) throws(WireError) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw WireError(.truncated) }
        defer { offset &+= size }
        return T(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    /// Reads `count` bytes as a view into the underlying buffer (no copy).
    mutating func readSlice(count: Int) throws(WireError) -> UnsafeRawBufferPointer {
        guard count >= 0, remaining >= count else { throw WireError(.truncated) }
        defer { offset &+= count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset &+ count)])
    }

    /// Reads `count` bytes into a new array.
    mutating func readBytes(count: Int) throws(WireError) -> [UInt8] {
        [UInt8](try readSlice(count: count))
    }

    /// Reads a LEB128 unsigned varint: at most 10 bytes, minimal encoding only, so one value has one encoding.
    mutating func readVarint() throws(WireError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = try readUInt8()
            if shift == 63, byte > 1 { throw WireError(.malformed("varint overflows 64 bits")) }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 {
                if byte == 0, shift > 0 { throw WireError(.malformed("varint is not minimally encoded")) }
                return result
            }
            shift &+= 7
        }
    }

    /// Reads a varint that must fit an `Int` length no larger than what remains (so no allocation is
    /// ever sized from an unchecked length).
    mutating func readVarintLength() throws(WireError) -> Int {
        let value = try readVarint()
        guard value <= UInt64(remaining) else { throw WireError(.truncated) }
        return Int(value)
    }

    /// Reads a string with a big-endian u16 byte-length prefix; it must be valid UTF-8.
    mutating func readShortString(field: StaticString) throws(WireError) -> String {
        let count = Int(try readInteger(as: UInt16.self))
        return try Self.string(try readSlice(count: count), field: field)
    }

    /// Reads a byte array with a big-endian u16 length prefix.
    mutating func readShortBytes() throws(WireError) -> [UInt8] {
        let count = Int(try readInteger(as: UInt16.self))
        return try readBytes(count: count)
    }

    /// Validates `slice` as UTF-8 and makes a string of it; invalid UTF-8 is malformed, never repaired,
    /// so a decoded value always re-encodes to the same bytes.
    static func string(_ slice: UnsafeRawBufferPointer, field: StaticString) throws(WireError) -> String {
        guard let string = String(validating: slice, as: UTF8.self) else {
            throw WireError(.malformed("\(field) is not valid UTF-8"))
        }
        return string
    }
}
