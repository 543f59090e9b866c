import CZlib

/// zlib's `windowBits` for the zlib format (2-byte header, Adler-32 trailer) with a 32 KiB window.
private let zlibWindowBits: Int32 = 15

/// A deflate `z_stream`, initialised once and reset per batch, so steady-state encoding allocates nothing.
///
/// The `z_stream` lives at a fixed heap address because zlib's internal state points back at it.
final class Deflater {
    private let stream: UnsafeMutablePointer<z_stream>
    private let initStatus: Int32

    /// Creates a stream compressing at `level` (0...9; other values are clamped).
    init(level: Int) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        initStatus = logferry_deflateInit2(
            stream, Int32(min(max(level, 0), 9)), Z_DEFLATED, zlibWindowBits, 8, Z_DEFAULT_STRATEGY)
    }

    deinit {
        if initStatus == Z_OK { deflateEnd(stream) }
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// The most bytes compressing `count` bytes can produce.
    func bound(_ count: Int) -> Int {
        Int(deflateBound(stream, uLong(count)))
    }

    /// Compresses all of `input` as one complete zlib stream into `output`, which must hold at least
    /// `bound(input.count)` bytes; returns how many bytes were written.
    func compress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        guard initStatus == Z_OK else { throw zlibError(initStatus, "deflateInit2") }
        guard input.count <= Int(UInt32.max), output.count <= Int(UInt32.max), let outBase = output.baseAddress else {
            throw WireError(.uncompressedTooLarge(size: UInt32(clamping: input.count), limit: UInt32.max))
        }
        var status = deflateReset(stream)
        guard status == Z_OK else { throw zlibError(status, "deflateReset") }
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(input.count)
        stream.pointee.next_out = outBase.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_out = uInt(output.count)
        status = deflate(stream, Z_FINISH)
        defer {
            stream.pointee.next_in = nil
            stream.pointee.next_out = nil
        }
        guard status == Z_STREAM_END else { throw zlibError(status, "deflate") }
        return output.count - Int(stream.pointee.avail_out)
    }

    private func zlibError(_ code: Int32, _ call: String) -> WireError {
        let message = stream.pointee.msg.map { String(cString: $0) } ?? "\(call) failed"
        return WireError(.zlib(code: code, message: message))
    }
}

/// An inflate `z_stream`, initialised once and reset per batch.
///
/// ``inflate(_:into:)`` is the zip-bomb-safe decompression every batch goes through: the output is
/// capped at exactly the declared size, and the stream must end exactly there with no bytes after it.
final class Inflater {
    private let stream: UnsafeMutablePointer<z_stream>
    private let initStatus: Int32

    init() {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        initStatus = logferry_inflateInit2(stream, zlibWindowBits)
    }

    deinit {
        if initStatus == Z_OK { inflateEnd(stream) }
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// Inflates `input`, a complete zlib stream, into all of `output`, whose size is the declared
    /// uncompressed size.
    ///
    /// - Throws: ``WireError/Kind/inflateLimitExceeded`` if the stream would produce more than `output`
    ///   holds (nothing beyond it is ever written), ``WireError/Kind/sizeMismatch`` if it ends short,
    ///   ``WireError/Kind/streamNotEnded`` if the input runs out before the end of the stream,
    ///   ``WireError/Kind/trailingData`` if input follows the end of the stream, ``WireError/Kind/zlib`` on
    ///   corrupt data (including a wrong Adler-32).
    func inflate(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(WireError) {
        guard initStatus == Z_OK else { throw zlibError(initStatus, "inflateInit2") }
        guard input.count <= Int(UInt32.max), output.count <= Int(UInt32.max) else {
            throw WireError(.malformed("compressed batch larger than 4 GiB"))
        }
        var status = inflateReset(stream)
        guard status == Z_OK else { throw zlibError(status, "inflateReset") }
        defer {
            stream.pointee.next_in = nil
            stream.pointee.next_out = nil
        }
        let declared = UInt32(output.count)
        // One spare byte past the cap: if inflate writes into it, the stream is longer than declared.
        var probe: UInt8 = 0
        try withUnsafeMutableBytes(of: &probe) { probeBuffer throws(WireError) in
            stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.pointee.avail_in = uInt(input.count)
            if let outBase = output.baseAddress, output.count > 0 {
                stream.pointee.next_out = outBase.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = uInt(output.count)
                status = CZlib.inflate(stream, Z_NO_FLUSH)
                while status == Z_OK, stream.pointee.avail_in > 0, stream.pointee.avail_out > 0 {
                    status = CZlib.inflate(stream, Z_NO_FLUSH)
                }
            } else {
                stream.pointee.next_out = nil
                stream.pointee.avail_out = 0
                status = Z_OK
            }
            if status == Z_OK || status == Z_BUF_ERROR {
                let produced = UInt32(output.count) - UInt32(stream.pointee.avail_out)
                guard produced == declared else {
                    // Room left but no input: the stream stops before its end.
                    throw WireError(.streamNotEnded)
                }
                // The output is full; the end marker and trailer may still be pending. Give inflate one
                // byte it must not use.
                stream.pointee.next_out = probeBuffer.baseAddress?.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = 1
                status = CZlib.inflate(stream, Z_NO_FLUSH)
                if stream.pointee.avail_out == 0 { throw WireError(.inflateLimitExceeded(limit: declared)) }
                if status == Z_OK || status == Z_BUF_ERROR { throw WireError(.streamNotEnded) }
            }
        }
        switch status {
        case Z_STREAM_END:
            let produced = UInt32(stream.pointee.total_out)
            guard produced == declared else { throw WireError(.sizeMismatch(declared: declared, actual: produced)) }
            guard stream.pointee.avail_in == 0 else { throw WireError(.trailingData) }
        case Z_NEED_DICT:
            throw WireError(.malformed("zlib stream asks for a preset dictionary"))
        default:
            throw zlibError(status, "inflate")
        }
    }

    private func zlibError(_ code: Int32, _ call: String) -> WireError {
        let message = stream.pointee.msg.map { String(cString: $0) } ?? "\(call) failed"
        return WireError(.zlib(code: code, message: message))
    }
}
