/// A checkpoint list that could not be decoded.
public struct FileCheckpointDecodingError: Error, CustomStringConvertible, Sendable {
    /// What is wrong with the bytes.
    public var reason: String

    /// Operator-facing text.
    public var description: String {
        "file checkpoints in spool record metadata cannot be decoded (\(reason)); "
            + "the affected files will be read again from their registry snapshot or from the start"
    }
}

extension FileCheckpoint {
    /// The current encoding version (first byte of ``encode(_:)``).
    public static let encodingVersion: UInt8 = 1

    /// Encodes a checkpoint list compactly:
    /// `version(1) count(varint) { device(varint) inode(varint) fingerprint(8, big-endian)
    /// fingerprintLength(varint) offset(varint) pathLength(varint) path(UTF-8) }*`.
    public static func encode(_ checkpoints: [FileCheckpoint]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(2 + checkpoints.count * 48)
        out.append(encodingVersion)
        appendVarint(UInt64(checkpoints.count), to: &out)
        for checkpoint in checkpoints {
            appendVarint(checkpoint.identity.device, to: &out)
            appendVarint(checkpoint.identity.inode, to: &out)
            var fingerprint = checkpoint.identity.fingerprint.bigEndian
            withUnsafeBytes(of: &fingerprint) { out.append(contentsOf: $0) }
            appendVarint(UInt64(checkpoint.identity.fingerprintLength), to: &out)
            appendVarint(checkpoint.offset, to: &out)
            let path = Array(checkpoint.path.utf8)
            appendVarint(UInt64(path.count), to: &out)
            out.append(contentsOf: path)
        }
        return out
    }

    /// Decodes what ``encode(_:)`` made. Never traps on malformed input.
    public static func decode(_ bytes: [UInt8]) throws(FileCheckpointDecodingError) -> [FileCheckpoint] {
        var reader = Reader(bytes: bytes)
        let version = try reader.byte()
        guard version == encodingVersion else {
            throw FileCheckpointDecodingError(reason: "unknown version \(version), expected \(encodingVersion)")
        }
        let count = try reader.varint()
        // Each entry takes at least 13 bytes; refuse counts the input cannot hold before allocating.
        guard count <= UInt64(bytes.count / 13) else {
            throw FileCheckpointDecodingError(reason: "count \(count) larger than the \(bytes.count) bytes can hold")
        }
        var result: [FileCheckpoint] = []
        result.reserveCapacity(Int(count))
        for _ in 0..<count {
            let device = try reader.varint()
            let inode = try reader.varint()
            let fingerprint = try reader.uint64()
            let fingerprintLength = try reader.varint()
            guard fingerprintLength <= UInt64(UInt32.max) else {
                throw FileCheckpointDecodingError(reason: "fingerprint length \(fingerprintLength) out of range")
            }
            let offset = try reader.varint()
            let pathLength = try reader.varint()
            let pathBytes = try reader.bytes(pathLength)
            let identity = FileIdentity(
                device: device,
                inode: inode,
                fingerprint: fingerprint,
                fingerprintLength: UInt32(fingerprintLength)
            )
            result.append(FileCheckpoint(identity: identity, path: String(decoding: pathBytes, as: UTF8.self), offset: offset))
        }
        guard reader.isAtEnd else {
            throw FileCheckpointDecodingError(reason: "\(bytes.count - reader.index) trailing bytes")
        }
        return result
    }

    private static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    private struct Reader {
        let bytes: [UInt8]
        var index = 0

        var isAtEnd: Bool { index == bytes.count }

        mutating func byte() throws(FileCheckpointDecodingError) -> UInt8 {
            guard index < bytes.count else { throw FileCheckpointDecodingError(reason: "truncated at byte \(index)") }
            defer { index += 1 }
            return bytes[index]
        }

        mutating func varint() throws(FileCheckpointDecodingError) -> UInt64 {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                let b = try byte()
                guard shift < 64, !(shift == 63 && b > 1) else {
                    throw FileCheckpointDecodingError(reason: "varint overflow at byte \(index - 1)")
                }
                result |= UInt64(b & 0x7F) << shift
                if b & 0x80 == 0 { return result }
                shift += 7
            }
        }

        mutating func uint64() throws(FileCheckpointDecodingError) -> UInt64 {
            var result: UInt64 = 0
            for _ in 0..<8 { result = (result << 8) | UInt64(try byte()) }
            return result
        }

        mutating func bytes(_ count: UInt64) throws(FileCheckpointDecodingError) -> ArraySlice<UInt8> {
            guard count <= UInt64(bytes.count - index) else {
                throw FileCheckpointDecodingError(reason: "string of \(count) bytes runs past the end at byte \(index)")
            }
            defer { index += Int(count) }
            return bytes[index..<index + Int(count)]
        }
    }
}
