import NIOCore

extension ByteBuffer: WireOutput {
    @inlinable
    mutating func writeWireInteger<T: FixedWidthInteger>(_ value: T) {
        writeInteger(value, endianness: .big)
    }

    @inlinable
    mutating func writeWireBytes(_ bytes: UnsafeRawBufferPointer) {
        writeBytes(bytes)
    }
}

extension Frame {
    /// Appends the frame's wire bytes (length prefix, type, body) to `buffer`.
    public func encode(into buffer: inout ByteBuffer) {
        buffer.reserveCapacity(minimumWritableBytes: Self.lengthPrefixSize + wireLength)
        write(to: &buffer)
    }

    /// Decodes one frame from the readable bytes of `buffer`, moving its reader index past it, or returns
    /// nil (leaving `buffer` untouched) when the frame is not complete yet.
    ///
    /// The length prefix is checked against `maxFrameBytes` as soon as its 4 bytes have arrived, so an
    /// oversize frame is refused before anyone buffers it.
    public static func decode(from buffer: inout ByteBuffer, maxFrameBytes: UInt32) throws(WireError) -> Frame? {
        let result: Result<(frame: Frame, consumed: Int)?, WireError> = buffer.withUnsafeReadableBytes { bytes in
            do throws(WireError) {
                return .success(try decode(from: bytes, maxFrameBytes: maxFrameBytes))
            } catch {
                return .failure(error)
            }
        }
        guard let (frame, consumed) = try result.get() else { return nil }
        buffer.moveReaderIndex(forwardBy: consumed)
        return frame
    }
}
