import NIOCore

/// Turns the bytes of a connection into ``Frame``s in a NIO pipeline (wrap it in `ByteToMessageHandler`).
///
/// A frame whose length prefix exceeds `maxFrameBytes` fails the channel with
/// ``WireError/Kind/frameTooLarge`` before its body is buffered. A connection that ends in the middle of
/// a frame fails with ``WireError/Kind/truncated``.
public struct FrameDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = Frame

    /// The largest frame accepted (type byte plus body).
    public var maxFrameBytes: UInt32

    /// Creates a decoder that refuses frames larger than `maxFrameBytes`.
    public init(maxFrameBytes: UInt32) {
        self.maxFrameBytes = maxFrameBytes
    }

    /// Decodes the next frame, or returns nil to wait for more bytes.
    public mutating func decode(buffer: inout ByteBuffer) throws -> Frame? {
        try Frame.decode(from: &buffer, maxFrameBytes: maxFrameBytes)
    }

    /// Decodes what is left when the connection ends; a partial frame at EOF is an error.
    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> Frame? {
        if let frame = try decode(buffer: &buffer) { return frame }
        if buffer.readableBytes > 0 { throw WireError(.truncated) }
        return nil
    }
}
