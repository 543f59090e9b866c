import NIOCore

/// Writes outbound ``Frame``s as bytes in a NIO pipeline (wrap it in `MessageToByteHandler`).
public struct FrameEncoder: MessageToByteEncoder {
    public typealias OutboundIn = Frame

    /// Creates an encoder.
    public init() {}

    /// Appends `data`'s wire bytes to `out`.
    public func encode(data: Frame, out: inout ByteBuffer) throws {
        data.encode(into: &out)
    }
}
