import LogFerryBytes

/// The bounds-checked cursor every decoder in this module reads through: the shared ``ByteReader`` over an
/// unsafe buffer, with its errors as ``WireError``s (and its varints under the shared minimal-encoding rules).
///
/// It never reads outside its buffer and never allocates on its own: a hostile length can at worst make a
/// read fail with ``WireError/Kind/truncated``. It lives only inside a `withUnsafeBytes` scope. It depends on
/// nothing but the standard library and LogFerryBytes, so the fuzzer can compile it without NIO.
struct WireReader {
    private var reader: ByteReader<UnsafeRawBufferPointer>

    init(_ bytes: UnsafeRawBufferPointer) {
        reader = ByteReader(bytes)
    }

    /// The offset of the next byte to read.
    var offset: Int { reader.offset }

    /// How many bytes are left to read.
    var remaining: Int { reader.remaining }

    /// Whether every byte has been read.
    var isAtEnd: Bool { reader.isAtEnd }

    /// Throws ``WireError/Kind/trailingData`` unless every byte has been read.
    func expectEnd() throws(WireError) {
        guard isAtEnd else { throw WireError(.trailingData) }
    }

    /// Runs one read of the shared reader, its error as a ``WireError``.
    @inline(__always)
    private mutating func read<T>(_ body: (inout ByteReader<UnsafeRawBufferPointer>) throws(ByteDecodingError) -> T) throws(WireError) -> T {
        do {
            return try body(&reader)
        } catch {
            switch error.kind {
            case .truncated: throw WireError(.truncated)
            case .varintOverflow: throw WireError(.malformed("varint overflows 64 bits"))
            case .varintNotMinimal: throw WireError(.malformed("varint is not minimally encoded"))
            }
        }
    }

    mutating func readUInt8() throws(WireError) -> UInt8 {
        try read { r throws(ByteDecodingError) in try r.readUInt8() }
    }

    /// Reads a big-endian fixed-width integer.
    mutating func readInteger<T: FixedWidthInteger>(as: T.Type = T.self) throws(WireError) -> T {
        try read { r throws(ByteDecodingError) in try r.readBigEndian(T.self) }
    }

    /// Reads `count` bytes as a view into the underlying buffer (no copy).
    mutating func readSlice(count: Int) throws(WireError) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: try read { r throws(ByteDecodingError) in try r.readSlice(count: count) })
    }

    /// Reads `count` bytes into a new array.
    mutating func readBytes(count: Int) throws(WireError) -> [UInt8] {
        try read { r throws(ByteDecodingError) in try r.readBytes(count: count) }
    }

    /// Reads a LEB128 unsigned varint: at most 10 bytes, minimal encoding only, so one value has one encoding.
    mutating func readVarint() throws(WireError) -> UInt64 {
        try read { r throws(ByteDecodingError) in try r.readVarint() }
    }

    /// Reads a varint that must fit an `Int` length no larger than what remains (so no allocation is ever
    /// sized from an unchecked length).
    mutating func readVarintLength() throws(WireError) -> Int {
        try read { r throws(ByteDecodingError) in try r.readVarintLength() }
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
