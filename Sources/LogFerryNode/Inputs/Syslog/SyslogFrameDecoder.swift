import NIOCore

/// One message cut out of a syslog TCP stream.
struct SyslogFrame: Sendable, Hashable {
    /// The message bytes, without octet count or terminator.
    var bytes: ByteBuffer
    /// True when the message was longer than the maximum and was cut (the rest was skipped).
    var truncated: Bool

    /// Makes a frame.
    init(bytes: ByteBuffer, truncated: Bool) {
        self.bytes = bytes
        self.truncated = truncated
    }
}

/// Splits a syslog TCP stream into messages (RFC 6587).
///
/// The first byte of each frame tells the method: a digit starts **octet counting** (`LEN SP MSG`, LEN of 1 to 9
/// digits without a leading zero); anything else is **non-transparent framing**, a message ending at LF, or at NUL,
/// with a CR before the LF dropped. Empty lines between frames are skipped. A digit run that is not a valid LEN (not
/// followed by a space, a leading zero, 10 or more digits) is read as the start of a newline-terminated message, so a
/// line that starts with a number is not mistaken for a huge frame.
///
/// A message longer than `maxMessageBytes` is cut at that length and delivered with ``SyslogFrame/truncated`` set; the
/// rest of it (the remaining octets of a counted frame, or the bytes up to the next newline) is skipped, so framing
/// stays in step and the connection lives on: no input makes the decoder fail. At end of stream a last
/// newline-framed message without its terminator is delivered; an incomplete counted frame is dropped.
struct SyslogFrameDecoder: NIOSingleStepByteToMessageDecoder {
    typealias InboundOut = SyslogFrame

    /// The longest message delivered whole.
    let maxMessageBytes: Int
    private var skip: Skip = .none

    private enum Skip {
        case none
        case octets(Int)
        case toNewline
    }

    /// Makes a decoder that cuts messages longer than `maxMessageBytes`.
    init(maxMessageBytes: Int) {
        self.maxMessageBytes = max(1, maxMessageBytes)
    }

    mutating func decode(buffer: inout ByteBuffer) throws -> SyslogFrame? {
        while true {
            switch skip {
            case .octets(let remaining):
                let n = min(remaining, buffer.readableBytes)
                buffer.moveReaderIndex(forwardBy: n)
                if n < remaining {
                    skip = .octets(remaining - n)
                    return nil
                }
                skip = .none
            case .toNewline:
                guard let end = buffer.readableBytesView.firstIndex(where: { $0 == 10 || $0 == 0 }) else {
                    buffer.moveReaderIndex(to: buffer.writerIndex)
                    return nil
                }
                buffer.moveReaderIndex(to: end + 1)
                skip = .none
            case .none:
                // Skip empty frames (stray terminators).
                while let first = buffer.readableBytesView.first, first == 10 || first == 13 || first == 0 {
                    buffer.moveReaderIndex(forwardBy: 1)
                }
                guard let first = buffer.readableBytesView.first else { return nil }
                if (48...57).contains(first) {
                    switch octetCountedFrame(&buffer) {
                    case .frame(let frame): return frame
                    case .needMoreData: return nil
                    case .notCounted: break
                    }
                }
                return newlineFrame(&buffer, atEOF: false)
            }
        }
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> SyslogFrame? {
        if let frame = try decode(buffer: &buffer) { return frame }
        let view = buffer.readableBytesView
        guard case .none = skip, !view.isEmpty else {
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return nil
        }
        if let space = view.firstIndex(of: UInt8(ascii: " ")), space > view.startIndex,
            view[view.startIndex..<space].allSatisfy({ (48...57).contains($0) })
        {
            // An octet-counted frame cut off by the end of the stream: nothing complete to deliver.
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return nil
        }
        return newlineFrame(&buffer, atEOF: true)
    }

    private enum CountedResult {
        case frame(SyslogFrame)
        case needMoreData
        case notCounted
    }

    private mutating func octetCountedFrame(_ buffer: inout ByteBuffer) -> CountedResult {
        let view = buffer.readableBytesView
        var length = 0
        var digits = 0
        var index = view.startIndex
        while index < view.endIndex, (48...57).contains(view[index]) {
            length = length &* 10 &+ Int(view[index] - 48)
            digits += 1
            index += 1
            if digits > 9 { return .notCounted }
        }
        guard view.first != UInt8(ascii: "0") else { return .notCounted }
        guard index < view.endIndex else { return .needMoreData }
        guard view[index] == UInt8(ascii: " ") else { return .notCounted }
        let headerBytes = digits + 1
        if length <= maxMessageBytes {
            guard buffer.readableBytes >= headerBytes + length else { return .needMoreData }
            buffer.moveReaderIndex(forwardBy: headerBytes)
            guard let message = buffer.readSlice(length: length) else { return .needMoreData }
            return .frame(SyslogFrame(bytes: message, truncated: false))
        }
        guard buffer.readableBytes >= headerBytes + maxMessageBytes else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: headerBytes)
        guard let message = buffer.readSlice(length: maxMessageBytes) else { return .needMoreData }
        skip = .octets(length - maxMessageBytes)
        return .frame(SyslogFrame(bytes: message, truncated: true))
    }

    private mutating func newlineFrame(_ buffer: inout ByteBuffer, atEOF: Bool) -> SyslogFrame? {
        let view = buffer.readableBytesView
        let searchEnd = view.startIndex + min(view.count, maxMessageBytes + 2)
        if let end = view[view.startIndex..<searchEnd].firstIndex(where: { $0 == 10 || $0 == 0 }) {
            var length = end - view.startIndex
            if length > 0, view[end - 1] == 13, view[end] == 10 { length -= 1 }
            let truncated = length > maxMessageBytes
            length = min(length, maxMessageBytes)
            guard let message = buffer.getSlice(at: buffer.readerIndex, length: length) else { return nil }
            buffer.moveReaderIndex(to: end + 1)
            return SyslogFrame(bytes: message, truncated: truncated)
        }
        if view.count > maxMessageBytes + 1 {
            guard let message = buffer.readSlice(length: maxMessageBytes) else { return nil }
            skip = .toNewline
            return SyslogFrame(bytes: message, truncated: true)
        }
        guard atEOF, view.count > 0 else { return nil }
        var length = view.count
        if view.last == 13 { length -= 1 }
        guard let message = buffer.readSlice(length: length) else { return nil }
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return SyslogFrame(bytes: message, truncated: false)
    }
}
