import LogFerryBytes

/// A checkpoint list that could not be decoded.
struct FileCheckpointDecodingError: Error, CustomStringConvertible, Sendable {
    /// What is wrong with the bytes.
    var reason: String

    /// Operator-facing text.
    var description: String {
        "file checkpoints in spool record metadata cannot be decoded (\(reason)); "
            + "the affected files will be read again from their registry snapshot or from the start"
    }
}

extension FileCheckpoint {
    /// The current encoding version (first byte of ``encode(_:)``).
    static let encodingVersion: UInt8 = 1

    /// Encodes a checkpoint list compactly:
    /// `version(1) count(varint) { device(varint) inode(varint) fingerprint(8, big-endian)
    /// fingerprintLength(varint) offset(varint) pathLength(varint) path(UTF-8) }*`.
    static func encode(_ checkpoints: [FileCheckpoint]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(2 + checkpoints.count * 48)
        out.append(encodingVersion)
        out.appendVarint(UInt64(checkpoints.count))
        for checkpoint in checkpoints {
            out.appendVarint(checkpoint.identity.device)
            out.appendVarint(checkpoint.identity.inode)
            out.appendBigEndian(checkpoint.identity.fingerprint)
            out.appendVarint(UInt64(checkpoint.identity.fingerprintLength))
            out.appendVarint(checkpoint.offset)
            let path = Array(checkpoint.path.utf8)
            out.appendVarint(UInt64(path.count))
            out.append(contentsOf: path)
        }
        return out
    }

    /// Decodes what ``encode(_:)`` made. Never traps on malformed input; refuses varints that are not
    /// minimally encoded (``encode(_:)`` never writes one), so one checkpoint list has one encoding.
    static func decode(_ bytes: [UInt8]) throws(FileCheckpointDecodingError) -> [FileCheckpoint] {
        do {
            return try decodeList(bytes)
        } catch let error as FileCheckpointDecodingError {
            throw error
        } catch {
            // A `ByteDecodingError`: the bytes end early or hold a varint that is too long or not minimal.
            throw FileCheckpointDecodingError(reason: "\(error)")
        }
    }

    private static func decodeList(_ bytes: [UInt8]) throws -> [FileCheckpoint] {
        var reader = ByteReader(bytes)
        let version = try reader.readUInt8()
        guard version == encodingVersion else {
            throw FileCheckpointDecodingError(reason: "unknown version \(version), expected \(encodingVersion)")
        }
        let count = try reader.readVarint()
        // Each entry takes at least 13 bytes; refuse counts the input cannot hold before allocating.
        guard count <= UInt64(bytes.count / 13) else {
            throw FileCheckpointDecodingError(reason: "count \(count) larger than the \(bytes.count) bytes can hold")
        }
        var result: [FileCheckpoint] = []
        result.reserveCapacity(Int(count))
        for _ in 0..<count {
            let device = try reader.readVarint()
            let inode = try reader.readVarint()
            let fingerprint = try reader.readBigEndian(UInt64.self)
            let fingerprintLength = try reader.readVarint()
            guard fingerprintLength <= UInt64(UInt32.max) else {
                throw FileCheckpointDecodingError(reason: "fingerprint length \(fingerprintLength) out of range")
            }
            let offset = try reader.readVarint()
            let pathBytes = try reader.readSlice(count: reader.readVarintLength())
            let identity = FileIdentity(
                device: device,
                inode: inode,
                fingerprint: fingerprint,
                fingerprintLength: UInt32(fingerprintLength)
            )
            result.append(FileCheckpoint(identity: identity, path: String(decoding: pathBytes, as: UTF8.self), offset: offset))
        }
        guard reader.isAtEnd else {
            throw FileCheckpointDecodingError(reason: "\(reader.remaining) trailing bytes")
        }
        return result
    }
}
