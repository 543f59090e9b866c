/// A batch encoded and compressed once at the edge: what the spool stores and every hop forwards unchanged.
///
/// ``BatchEncoder`` makes one from a ``Batch``; ``BatchDecoder`` checks and opens one. The CRC32C covers the
/// compressed bytes, so a relay can verify a batch without inflating it.
public struct SealedBatch: Sendable, Hashable {
    /// The spool payload format version written by ``serialized()``.
    static let serializationVersion: UInt8 = 1
    /// The size of the header ``serialized()`` puts before the compressed bytes.
    static let serializedHeaderSize = 1 + 4 + 4 + 4

    /// How many events the batch holds.
    public var eventCount: UInt32
    /// The size of the batch body once inflated.
    public var uncompressedSize: UInt32
    /// CRC32C of ``compressed``.
    public var crc32c: UInt32
    /// The zlib stream of the batch body.
    public var compressed: [UInt8]

    /// Creates a sealed batch from its parts (as read off the wire; nothing is checked until decoding).
    public init(eventCount: UInt32, uncompressedSize: UInt32, crc32c: UInt32, compressed: [UInt8]) {
        self.eventCount = eventCount
        self.uncompressedSize = uncompressedSize
        self.crc32c = crc32c
        self.compressed = compressed
    }

    /// The spool payload form: a u8 format version (1), u32 event count, u32 uncompressed size, u32 CRC32C
    /// (all big-endian), then the compressed bytes.
    public func serialized() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.serializedHeaderSize + compressed.count)
        appendSerializedHeader(to: &bytes)
        bytes.writeWireBytes(compressed)
        return bytes
    }

    /// ``serialized()`` as the two parts that are stored back to back: the header bytes, and ``compressed``
    /// itself, not copied (for `Spool.append(parts:metadata:)`).
    public func serializedParts() -> [[UInt8]] {
        var header: [UInt8] = []
        header.reserveCapacity(Self.serializedHeaderSize)
        appendSerializedHeader(to: &header)
        return [header, compressed]
    }

    private func appendSerializedHeader(to bytes: inout [UInt8]) {
        bytes.writeWireInteger(Self.serializationVersion)
        bytes.writeWireInteger(eventCount)
        bytes.writeWireInteger(uncompressedSize)
        bytes.writeWireInteger(crc32c)
    }

    /// What the spool payload form says before the compressed bytes.
    public var header: Header {
        Header(eventCount: eventCount, uncompressedSize: uncompressedSize, crc32c: crc32c)
    }

    /// Reads the spool payload form written by ``serialized()``.
    ///
    /// Checks the header only; ``BatchDecoder`` checks the CRC and the contents.
    public init(serialized bytes: [UInt8]) throws(WireError) {
        let header = try Header(serialized: bytes)
        self.init(
            eventCount: header.eventCount, uncompressedSize: header.uncompressedSize, crc32c: header.crc32c,
            compressed: Array(bytes[Self.serializedHeaderSize...]))
    }
}

extension SealedBatch {
    /// The counts and checksum a sealed batch declares, read from its spool payload form without copying the
    /// compressed bytes: all a reader needs whose body was inflated before (``InflatedBatch``).
    public struct Header: Sendable, Hashable {
        /// How many events the batch holds.
        public var eventCount: UInt32
        /// The size of the batch body once inflated.
        public var uncompressedSize: UInt32
        /// CRC32C of the compressed bytes.
        public var crc32c: UInt32

        /// Creates a header from its parts.
        public init(eventCount: UInt32, uncompressedSize: UInt32, crc32c: UInt32) {
            self.eventCount = eventCount
            self.uncompressedSize = uncompressedSize
            self.crc32c = crc32c
        }

        /// Reads the header of the spool payload form written by ``SealedBatch/serialized()``, checking the
        /// version and that the compressed bytes after it can be framed.
        public init(serialized bytes: [UInt8]) throws(WireError) {
            let parsed: Result<Header, WireError> = bytes.withUnsafeBytes { buffer in
                do throws(WireError) {
                    var reader = WireReader(buffer)
                    let version = try reader.readUInt8()
                    guard version == SealedBatch.serializationVersion else {
                        throw WireError(.malformed("sealed batch format version \(version) is not \(SealedBatch.serializationVersion)"))
                    }
                    let eventCount = try reader.readInteger(as: UInt32.self)
                    let uncompressedSize = try reader.readInteger(as: UInt32.self)
                    let crc32c = try reader.readInteger(as: UInt32.self)
                    guard reader.remaining <= Int(UInt32.max) - BatchFrame.fixedBodySize - 1 else {
                        throw WireError(.malformed("sealed batch of \(reader.remaining) compressed bytes cannot be framed"))
                    }
                    return .success(Header(eventCount: eventCount, uncompressedSize: uncompressedSize, crc32c: crc32c))
                } catch {
                    return .failure(error)
                }
            }
            self = try parsed.get()
        }
    }
}
