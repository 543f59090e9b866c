extension Frame {
    /// The size of the type byte plus the body: the value of the frame's length prefix.
    var wireLength: Int {
        1 + bodySize
    }

    private var bodySize: Int {
        switch self {
        case .serverHello(let hello):
            2 + 2 + 2 + hello.nonce.count + 4 * 4
        case .clientHello(let hello):
            2 + 2 + hello.spoolID.count + shortStringWireSize(hello.hostName) + 2 + hello.proof.count
        case .welcome:
            8
        case .batch(let frame):
            BatchFrame.fixedBodySize + frame.origin.wireSize + frame.batch.compressed.count
        case .ack:
            8
        case .refuse(let refusal):
            8 + 1 + shortStringWireSize(refusal.reason)
        case .heartbeat:
            0
        case .bye(let reason):
            shortStringWireSize(reason)
        }
    }

    /// Writes the frame (length prefix, type, body) to `output`.
    ///
    /// Strings longer than 65,535 UTF-8 bytes are cut at a scalar boundary. A batch whose compressed bytes
    /// cannot be described by a u32 length is a programming error: ``BatchEncoder`` never makes one and
    /// ``SealedBatch/init(serialized:)`` refuses one.
    func write<Output: WireOutput>(to output: inout Output) {
        let length = wireLength
        precondition(length <= Int(UInt32.max), "frame of \(length) bytes cannot be length-prefixed")
        output.writeWireInteger(UInt32(length))
        output.writeWireInteger(kind.rawValue)
        switch self {
        case .serverHello(let hello):
            output.writeWireInteger(hello.versionMin)
            output.writeWireInteger(hello.versionMax)
            output.writeShortBytes(hello.nonce)
            output.writeWireInteger(hello.limits.maxFrameBytes)
            output.writeWireInteger(hello.limits.maxUncompressedBytes)
            output.writeWireInteger(hello.limits.maxEventsPerBatch)
            output.writeWireInteger(hello.limits.maxWindow)
        case .clientHello(let hello):
            output.writeWireInteger(hello.version)
            output.writeShortBytes(hello.spoolID)
            output.writeShortString(hello.hostName)
            output.writeShortBytes(hello.proof)
        case .welcome(let welcome):
            output.writeWireInteger(welcome.resumeSequence)
        case .batch(let frame):
            output.writeWireInteger(frame.sequence)
            output.writeWireInteger(frame.part)
            output.writeWireInteger(frame.partCount)
            frame.origin.write(to: &output)
            output.writeWireInteger(frame.batch.eventCount)
            output.writeWireInteger(frame.batch.uncompressedSize)
            output.writeWireInteger(frame.batch.crc32c)
            output.writeWireInteger(UInt32(frame.batch.compressed.count))
            output.writeWireBytes(frame.batch.compressed)
        case .ack(let sequence):
            output.writeWireInteger(sequence)
        case .refuse(let refusal):
            output.writeWireInteger(refusal.sequence)
            output.writeWireInteger(refusal.code.rawValue)
            output.writeShortString(refusal.reason)
        case .heartbeat:
            break
        case .bye(let reason):
            output.writeShortString(reason)
        }
    }

    /// The frame's wire bytes (length prefix, type, body) as an array.
    public func encodedBytes() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(4 + wireLength)
        write(to: &bytes)
        return bytes
    }
}
