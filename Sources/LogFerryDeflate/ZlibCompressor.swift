import CZlib

/// zlib's `windowBits` for the zlib format (2-byte header, Adler-32 trailer) with a 32 KiB window.
let zlibWindowBits: Int32 = 15

/// A deflate `z_stream`, initialised once and reset per call.
///
/// The `z_stream` lives at a fixed heap address because zlib's internal state points back at it.
final class ZlibCompressor {
    private let stream: UnsafeMutablePointer<z_stream>
    private let initStatus: Int32

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

    /// zlib's bound for `count` bytes with this stream's parameters.
    func bound(_ count: Int) -> Int {
        guard initStatus == Z_OK else { return 0 }
        return Int(deflateBound(stream, uLong(count)))
    }

    func compress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(DeflateError) -> Int {
        guard initStatus == Z_OK else { throw zlibError(initStatus, "deflateInit2") }
        guard let outBase = output.baseAddress else {
            throw .failed(backend: "zlib", code: Z_BUF_ERROR, detail: "no output buffer")
        }
        var status = deflateReset(stream)
        guard status == Z_OK else { throw zlibError(status, "deflateReset") }
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(input.count)
        stream.pointee.next_out = outBase.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_out = uInt(clamping: output.count)
        defer {
            stream.pointee.next_in = nil
            stream.pointee.next_out = nil
        }
        status = deflate(stream, Z_FINISH)
        guard status == Z_STREAM_END else { throw zlibError(status, "deflate") }
        return output.count - Int(stream.pointee.avail_out)
    }

    private func zlibError(_ code: Int32, _ call: String) -> DeflateError {
        if code == Z_MEM_ERROR { return .outOfMemory(backend: "zlib") }
        let message = stream.pointee.msg.map { String(cString: $0) } ?? "\(call) failed"
        return .failed(backend: "zlib", code: code, detail: message)
    }
}
