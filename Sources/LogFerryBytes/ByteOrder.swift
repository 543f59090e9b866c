// Fixed-width integers in a stated byte order: big-endian on the wire and in record metadata, little-endian in
// the spool's own files (record frames, segment headers, state files).

extension Array where Element == UInt8 {
    /// Appends `value` in big-endian byte order (most significant byte first).
    @inlinable
    public mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }

    /// Appends `value` in little-endian byte order (least significant byte first).
    @inlinable
    public mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}

extension RandomAccessCollection where Element == UInt8, Index == Int {
    /// Reads a big-endian `T` at index `offset`.
    ///
    /// The caller has checked the bounds (``ByteReader`` is the checked way); reading outside them traps.
    @inlinable
    public func readBigEndian<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        T(bigEndian: loadInteger(T.self, at: offset))
    }

    /// Reads a little-endian `T` at index `offset`.
    ///
    /// The caller has checked the bounds; reading outside them traps.
    @inlinable
    public func readLittleEndian<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        T(littleEndian: loadInteger(T.self, at: offset))
    }

    /// The `MemoryLayout<T>.size` bytes at index `offset` as a `T` in memory order.
    @inlinable
    func loadInteger<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        let size = MemoryLayout<T>.size
        precondition(offset >= startIndex && offset <= endIndex &- size, "integer read outside the bytes")
        if let value = withContiguousStorageIfAvailable({
            UnsafeRawBufferPointer($0).loadUnaligned(fromByteOffset: offset &- startIndex, as: T.self)
        }) {
            return value
        }
        var value = T.zero
        Swift.withUnsafeMutableBytes(of: &value) { raw in
            for i in 0..<size { raw[i] = self[offset &+ i] }
        }
        return value
    }
}
