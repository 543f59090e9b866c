import LogFerryBytes

/// Somewhere frame and batch bytes are written to: a NIO `ByteBuffer` on the wire, a `[UInt8]` in the
/// batch encoder, the fuzzer and the test vectors. One encoding routine serves all of them.
protocol WireOutput {
    /// Appends `value` big-endian.
    mutating func writeWireInteger<T: FixedWidthInteger>(_ value: T)
    /// Appends raw bytes.
    mutating func writeWireBytes(_ bytes: UnsafeRawBufferPointer)
}

extension WireOutput {
    /// Appends an array of bytes.
    mutating func writeWireBytes(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { writeWireBytes($0) }
    }

    /// Appends a string with a u16 byte-length prefix, cut at a scalar boundary to 65,535 bytes.
    mutating func writeShortString(_ string: String) {
        let utf8 = shortStringUTF8(string)
        writeWireInteger(UInt16(utf8.count))
        writeWireBytes(Array(utf8))
    }

    /// Appends bytes with a u16 length prefix. Callers guarantee `bytes.count <= 65,535` (nonces, ids, proofs).
    mutating func writeShortBytes(_ bytes: [UInt8]) {
        precondition(bytes.count <= Int(UInt16.max), "short byte array longer than 65535 bytes")
        writeWireInteger(UInt16(bytes.count))
        writeWireBytes(bytes)
    }
}

/// The UTF-8 bytes ``WireOutput/writeShortString(_:)`` writes for `string`: all of them, or the longest
/// prefix of at most 65,535 bytes that ends on a scalar boundary.
func shortStringUTF8(_ string: String) -> Substring.UTF8View {
    let utf8 = string.utf8
    let limit = Int(UInt16.max)
    guard utf8.count > limit else { return utf8[...] }
    var end = utf8.index(utf8.startIndex, offsetBy: limit)
    while end > utf8.startIndex, utf8[end] & 0xC0 == 0x80 { end = utf8.index(before: end) }
    return utf8[..<end]
}

/// The bytes ``WireOutput/writeShortString(_:)`` writes for `string`, prefix included.
func shortStringWireSize(_ string: String) -> Int {
    2 + shortStringUTF8(string).count
}

extension Array: WireOutput where Element == UInt8 {
    mutating func writeWireInteger<T: FixedWidthInteger>(_ value: T) {
        appendBigEndian(value)
    }

    mutating func writeWireBytes(_ bytes: UnsafeRawBufferPointer) {
        append(contentsOf: bytes)
    }
}
