/// Unsigned LEB128 varints: seven bits per byte, least significant group first, the high bit set on every byte
/// but the last.
///
/// Writing always gives the minimal encoding, and reading accepts only the minimal encoding (at most
/// ``maxBytes`` bytes, no trailing zero group, nothing above 64 bits), so one value has exactly one encoding.
/// The batch body on the wire and the file checkpoints in spool record metadata both use these rules.
public enum Varint {
    /// The most bytes a varint of a `UInt64` takes.
    public static let maxBytes = 10

    /// Reads the varint that starts at index `offset` of `bytes` and moves `offset` past it.
    ///
    /// On error `offset` is left where it was. Throws ``ByteDecodingError`` with kind `truncated` when the
    /// bytes end inside the varint, `varintOverflow` past 64 bits and `varintNotMinimal` for a redundant
    /// encoding; its offset counts from `bytes.startIndex`.
    @inlinable
    public static func read<Bytes: RandomAccessCollection<UInt8>>(
        from bytes: Bytes,
        at offset: inout Int
    ) throws(ByteDecodingError) -> UInt64 where Bytes.Index == Int {
        // Most varints of a batch (deltas, indices, line lengths under 128) are one byte.
        if offset >= bytes.startIndex, offset < bytes.endIndex {
            let first = bytes[offset]
            if first < 0x80 {
                offset &+= 1
                return UInt64(first)
            }
        }
        var index = offset
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard index >= bytes.startIndex, index < bytes.endIndex else {
                throw ByteDecodingError(.truncated, at: offset &- bytes.startIndex)
            }
            let byte = bytes[index]
            index &+= 1
            if shift == 63, byte > 1 { throw ByteDecodingError(.varintOverflow, at: offset &- bytes.startIndex) }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 {
                if byte == 0, shift > 0 { throw ByteDecodingError(.varintNotMinimal, at: offset &- bytes.startIndex) }
                offset = index
                return result
            }
            shift &+= 7
        }
    }
}

extension Varint {
    /// Writes `value` as a minimally encoded varint into `buffer` at `index` and returns the index just after it.
    /// `buffer` must have room for ``maxBytes`` bytes from `index`.
    @inlinable
    public static func write(_ value: UInt64, into buffer: UnsafeMutableRawBufferPointer, at index: Int) -> Int {
        var value = value
        var index = index
        while value >= 0x80 {
            buffer[index] = UInt8(truncatingIfNeeded: value) | 0x80
            value >>= 7
            index &+= 1
        }
        buffer[index] = UInt8(value)
        return index &+ 1
    }
}

extension Array where Element == UInt8 {
    /// Appends `value` as a minimally encoded unsigned LEB128 varint (1 to ``Varint/maxBytes`` bytes).
    @inlinable
    public mutating func appendVarint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        append(UInt8(value))
    }
}
