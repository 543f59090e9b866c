import NIOCore
import Synchronization

/// A frame size limit that can be raised while a connection runs: a listener allows only a small frame
/// until the client has authenticated, so an unauthenticated peer cannot make it buffer megabytes.
public final class FrameSizeLimit: Sendable {
    private let value: Atomic<UInt32>

    /// Creates a limit of `bytes`.
    public init(_ bytes: UInt32) {
        value = Atomic(bytes)
    }

    /// The current limit.
    public var bytes: UInt32 { value.load(ordering: .relaxed) }

    /// Sets the limit (after the handshake, to the announced `maxFrameBytes`).
    public func set(_ bytes: UInt32) {
        value.store(bytes, ordering: .relaxed)
    }
}

/// Turns the bytes of a connection into ``Frame``s in a NIO pipeline (wrap it in `ByteToMessageHandler`).
///
/// A frame whose length prefix exceeds `maxFrameBytes` fails the channel with
/// ``WireError/Kind/frameTooLarge(length:limit:)`` before its body is buffered. A connection that ends in the
/// middle of a frame fails with ``WireError/Kind/truncated``.
public struct FrameDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = Frame

    /// The largest frame accepted (type byte plus body).
    public var maxFrameBytes: UInt32 { limit?.bytes ?? fixedLimit }
    private let fixedLimit: UInt32
    private let limit: FrameSizeLimit?

    /// Creates a decoder that refuses frames larger than `maxFrameBytes`.
    public init(maxFrameBytes: UInt32) {
        self.fixedLimit = maxFrameBytes
        self.limit = nil
    }

    /// Creates a decoder whose limit follows `limit` (raised after a handshake).
    public init(limit: FrameSizeLimit) {
        self.fixedLimit = limit.bytes
        self.limit = limit
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
