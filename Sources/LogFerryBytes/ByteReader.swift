/// A bounds-checked cursor over bytes: every read either succeeds or throws ``ByteDecodingError``, so hostile
/// or damaged input is an error to report, never a crash.
///
/// It never allocates on its own (only ``readBytes(count:)`` copies, and only what it has checked is there), so
/// a hostile length can at worst make a read fail. Works over `[UInt8]`, `ArraySlice<UInt8>` and
/// `UnsafeRawBufferPointer` alike; offsets in errors count from the start of the bytes.
public struct ByteReader<Bytes: RandomAccessCollection<UInt8>> where Bytes.Index == Int {
    @usableFromInline let bytes: Bytes
    @usableFromInline var position = 0

    /// How many bytes have been read: the offset of the next byte from the start of the bytes.
    @inlinable
    public var offset: Int { position }

    /// Reads `bytes` from their start.
    @inlinable
    public init(_ bytes: Bytes) {
        self.bytes = bytes
    }

    /// How many bytes are left to read.
    @inlinable
    public var remaining: Int { bytes.count &- offset }

    /// Whether every byte has been read.
    @inlinable
    public var isAtEnd: Bool { offset == bytes.count }

    /// Reads one byte.
    @inlinable
    public mutating func readUInt8() throws(ByteDecodingError) -> UInt8 {
        guard remaining >= 1 else { throw ByteDecodingError(.truncated, at: offset) }
        defer { position &+= 1 }
        return bytes[bytes.startIndex &+ offset]
    }

    /// Reads a big-endian fixed-width integer.
    @inlinable
    public mutating func readBigEndian<T: FixedWidthInteger>(_: T.Type = T.self) throws(ByteDecodingError) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw ByteDecodingError(.truncated, at: offset) }
        defer { position &+= size }
        return bytes.readBigEndian(T.self, at: bytes.startIndex &+ offset)
    }

    /// Reads `count` bytes as a view into the underlying bytes (no copy).
    @inlinable
    public mutating func readSlice(count: Int) throws(ByteDecodingError) -> Bytes.SubSequence {
        guard count >= 0, remaining >= count else { throw ByteDecodingError(.truncated, at: offset) }
        let start = bytes.startIndex &+ offset
        position &+= count
        return bytes[start..<(start &+ count)]
    }

    /// Reads `count` bytes into a new array.
    @inlinable
    public mutating func readBytes(count: Int) throws(ByteDecodingError) -> [UInt8] {
        [UInt8](try readSlice(count: count))
    }

    /// Reads an unsigned LEB128 varint under the ``Varint`` rules: at most 10 bytes, minimal encoding only.
    @inlinable
    public mutating func readVarint() throws(ByteDecodingError) -> UInt64 {
        var index = bytes.startIndex &+ offset
        let value = try Varint.read(from: bytes, at: &index)
        position = index &- bytes.startIndex
        return value
    }

    /// Reads a varint that must fit an `Int` length no larger than what remains, so no allocation is ever
    /// sized from an unchecked length; a larger one is `truncated`.
    @inlinable
    public mutating func readVarintLength() throws(ByteDecodingError) -> Int {
        let start = offset
        let value = try readVarint()
        guard value <= UInt64(remaining) else { throw ByteDecodingError(.truncated, at: start) }
        return Int(value)
    }
}
