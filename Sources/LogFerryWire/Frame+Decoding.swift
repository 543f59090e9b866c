import LogFerryBytes

extension Frame {
    /// The size of the length prefix.
    static let lengthPrefixSize = 4

    /// Decodes the first frame in `bytes`, or returns nil when `bytes` holds only part of it.
    ///
    /// The length prefix is checked against `maxFrameBytes` as soon as its 4 bytes are present, before
    /// anything else is looked at, so a hostile length never makes anyone buffer it. Returns the frame and
    /// how many bytes it took. Depends on nothing but the standard library so the fuzzer can call it.
    static func decode(
        from bytes: UnsafeRawBufferPointer,
        maxFrameBytes: UInt32
    ) throws(WireError) -> (frame: Frame, consumed: Int)? {
        guard let length = try checkedLength(from: bytes, maxFrameBytes: maxFrameBytes) else { return nil }
        let total = lengthPrefixSize + Int(length)
        guard bytes.count >= total else { return nil }
        let frameBytes = UnsafeRawBufferPointer(rebasing: bytes[lengthPrefixSize..<total])
        return (try parse(frameBytes), total)
    }

    /// Reads and checks the length prefix at the start of `bytes`; nil when fewer than 4 bytes are present.
    static func checkedLength(from bytes: UnsafeRawBufferPointer, maxFrameBytes: UInt32) throws(WireError) -> UInt32? {
        guard bytes.count >= lengthPrefixSize else { return nil }
        let length = bytes.readBigEndian(UInt32.self, at: 0)
        guard length <= maxFrameBytes else { throw WireError(.frameTooLarge(length: length, limit: maxFrameBytes)) }
        guard length >= 1 else { throw WireError(.malformed("frame length 0 leaves no room for the type byte")) }
        return length
    }

    /// Parses the type byte and body of one frame (the bytes the length prefix covers); all of them must be used.
    static func parse(_ frameBytes: UnsafeRawBufferPointer) throws(WireError) -> Frame {
        var reader = WireReader(frameBytes)
        let type = try reader.readUInt8()
        guard let kind = Kind(rawValue: type) else { throw WireError(.unknownFrameType(type)) }
        let frame: Frame
        switch kind {
        case .serverHello:
            let versionMin = try reader.readInteger(as: UInt16.self)
            let versionMax = try reader.readInteger(as: UInt16.self)
            guard versionMin <= versionMax else {
                throw WireError(.malformed("server hello version range \(versionMin)...\(versionMax) is empty"))
            }
            let nonce = try reader.readShortBytes()
            guard nonce.count == ServerHello.nonceSize else {
                throw WireError(.malformed("server hello nonce is \(nonce.count) bytes, not \(ServerHello.nonceSize)"))
            }
            let limits = WireLimits(
                maxFrameBytes: try reader.readInteger(),
                maxUncompressedBytes: try reader.readInteger(),
                maxEventsPerBatch: try reader.readInteger(),
                maxWindow: try reader.readInteger()
            )
            guard limits.maxFrameBytes > 0, limits.maxUncompressedBytes > 0, limits.maxEventsPerBatch > 0,
                limits.maxWindow > 0
            else { throw WireError(.malformed("server hello announces a zero limit")) }
            frame = .serverHello(ServerHello(versionMin: versionMin, versionMax: versionMax, nonce: nonce, limits: limits))
        case .clientHello:
            let version = try reader.readInteger(as: UInt16.self)
            let spoolID = try reader.readShortBytes()
            guard spoolID.count == ClientHello.spoolIDSize else {
                throw WireError(.malformed("client hello spool id is \(spoolID.count) bytes, not \(ClientHello.spoolIDSize)"))
            }
            let hostName = try reader.readShortString(field: "client hello host name")
            let proof = try reader.readShortBytes()
            guard proof.isEmpty || proof.count == ClientHello.proofSize else {
                throw WireError(.malformed("client hello proof is \(proof.count) bytes, not 0 or \(ClientHello.proofSize)"))
            }
            frame = .clientHello(ClientHello(version: version, spoolID: spoolID, hostName: hostName, proof: proof))
        case .welcome:
            frame = .welcome(Welcome(resumeSequence: try reader.readInteger()))
        case .batch:
            let sequence = try reader.readInteger(as: UInt64.self)
            let part = try reader.readInteger(as: UInt16.self)
            let partCount = try reader.readInteger(as: UInt16.self)
            guard sequence >= 1 else { throw WireError(.malformed("batch sequence 0 (sequences start at 1)")) }
            guard part < partCount else {
                throw WireError(.malformed("batch \(sequence) is part \(part) of \(partCount)"))
            }
            let origin = try BatchOrigin.read(from: &reader)
            let eventCount = try reader.readInteger(as: UInt32.self)
            let uncompressedSize = try reader.readInteger(as: UInt32.self)
            let crc32c = try reader.readInteger(as: UInt32.self)
            let compressedCount = try reader.readInteger(as: UInt32.self)
            guard UInt64(compressedCount) == UInt64(reader.remaining) else {
                throw WireError(compressedCount > reader.remaining ? .truncated : .trailingData)
            }
            let compressed = try reader.readBytes(count: Int(compressedCount))
            let sealed = SealedBatch(
                eventCount: eventCount, uncompressedSize: uncompressedSize, crc32c: crc32c, compressed: compressed)
            try origin.validate(eventCount: eventCount)
            frame = .batch(BatchFrame(sequence: sequence, part: part, partCount: partCount, origin: origin, batch: sealed))
        case .ack:
            frame = .ack(try reader.readInteger())
        case .refuse:
            let sequence = try reader.readInteger(as: UInt64.self)
            let rawCode = try reader.readUInt8()
            guard let code = RefusalCode(rawValue: rawCode) else {
                throw WireError(.malformed("unknown refusal code \(rawCode)"))
            }
            let reason = try reader.readShortString(field: "refusal reason")
            frame = .refuse(Refusal(sequence: sequence, code: code, reason: reason))
        case .heartbeat:
            frame = .heartbeat
        case .bye:
            frame = .bye(try reader.readShortString(field: "bye reason"))
        }
        try reader.expectEnd()
        return frame
    }
}
